//! One CloudFormation stack, brought to a wanted state idempotently: created when
//! absent (or after a failed first creation), left alone when its template,
//! parameters and tags are already the wanted ones, updated otherwise; deleted
//! for `destroy`. Waits for the stack to settle and, when it failed, names the
//! failed resources with CloudFormation's own reasons.
//!
//! It knows nothing of sls-load's templates ([`super::templates`]) or regions;
//! callers hand it a client of the stack's region.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::types::{Capability, Parameter, Stack, Tag};

/// How long one stack may take to settle.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(30 * 60);

/// A stack as it should be.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    /// The stack's name.
    pub name: &'a str,
    /// The template body.
    pub template: &'a str,
    /// Every parameter the template takes from us.
    pub parameters: BTreeMap<&'static str, String>,
    /// Tags for the stack and, through it, its resources.
    pub tags: &'a BTreeMap<String, String>,
    /// `CAPABILITY_IAM` or `CAPABILITY_NAMED_IAM`.
    pub capability: Capability,
}

/// What bringing a stack to its wanted state did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The stack did not exist.
    Created,
    /// The stack changed.
    Updated,
    /// The stack was already as wanted.
    Unchanged,
}

impl Change {
    /// `created`, `updated`, `unchanged`.
    pub fn word(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

/// A stack that could not be brought to its wanted state, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stack {stack}: {message}")]
pub struct StackError {
    /// The stack.
    pub stack: String,
    /// What failed, with the failed resources' reasons.
    pub message: String,
}

/// A settled stack's outputs.
pub type Outputs = BTreeMap<String, String>;

/// Brings `wanted` about through `cf`; returns what changed and the outputs.
pub async fn ensure(cf: &Client, wanted: &Wanted<'_>) -> Result<(Change, Outputs), StackError> {
    let fail = |message: String| StackError {
        stack: wanted.name.to_owned(),
        message,
    };
    let mut existing = describe(cf, wanted.name).await.map_err(&fail)?;
    if existing
        .as_ref()
        .is_some_and(|s| status(s) == "ROLLBACK_COMPLETE")
    {
        // A first creation that failed leaves a stack that can only be deleted.
        delete(cf, wanted.name).await?;
        existing = None;
    }
    let change = match existing {
        None => {
            cf.create_stack()
                .stack_name(wanted.name)
                .template_body(wanted.template)
                .set_parameters(Some(parameters(wanted)))
                .set_tags(Some(tags(wanted)))
                .capabilities(wanted.capability.clone())
                .send()
                .await
                .map_err(|e| {
                    fail(format!(
                        "create failed: {}",
                        crate::aws_error::code_and_message(&e)
                    ))
                })?;
            Change::Created
        }
        Some(stack) if same(cf, &stack, wanted).await.map_err(&fail)? => Change::Unchanged,
        Some(_) => {
            let updated = cf
                .update_stack()
                .stack_name(wanted.name)
                .template_body(wanted.template)
                .set_parameters(Some(parameters(wanted)))
                .set_tags(Some(tags(wanted)))
                .capabilities(wanted.capability.clone())
                .send()
                .await;
            match updated {
                Ok(_) => Change::Updated,
                Err(e) if e.message().is_some_and(|m| m.contains("No updates")) => {
                    Change::Unchanged
                }
                Err(e) => {
                    return Err(fail(format!(
                        "update failed: {}",
                        crate::aws_error::code_and_message(&e)
                    )));
                }
            }
        }
    };
    let stack = settle(cf, wanted.name).await?;
    let Some(stack) = stack else {
        return Err(fail("disappeared while it was being deployed".into()));
    };
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok((change, outputs))
}

/// Deletes stack `name` if it exists and waits until it is gone; `false` when
/// there was none.
pub async fn delete(cf: &Client, name: &str) -> Result<bool, StackError> {
    let fail = |message: String| StackError {
        stack: name.to_owned(),
        message,
    };
    if describe(cf, name).await.map_err(&fail)?.is_none() {
        return Ok(false);
    }
    cf.delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "delete failed: {}",
                crate::aws_error::code_and_message(&e)
            ))
        })?;
    match settle(cf, name).await? {
        None => Ok(true),
        Some(s) if status(&s) == "DELETE_COMPLETE" => Ok(true),
        Some(s) => Err(fail(format!(
            "delete ended in {}{}",
            status(&s),
            failed_events(cf, name).await
        ))),
    }
}

/// The outputs of stack `name`, or `None` when there is no such stack.
pub async fn outputs(cf: &Client, name: &str) -> Result<Option<Outputs>, StackError> {
    let stack = describe(cf, name).await.map_err(|message| StackError {
        stack: name.to_owned(),
        message,
    })?;
    Ok(stack.map(|s| {
        s.outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect()
    }))
}

/// The value of parameter `key` of stack `name`, or `None` when there is no
/// such stack (or parameter).
pub async fn parameter(cf: &Client, name: &str, key: &str) -> Result<Option<String>, StackError> {
    let stack = describe(cf, name).await.map_err(|message| StackError {
        stack: name.to_owned(),
        message,
    })?;
    Ok(stack.and_then(|s| {
        s.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .map(|p| p.parameter_value().unwrap_or_default().to_owned())
    }))
}

/// Stack `name`, or `None` when there is none (or it was deleted).
async fn describe(cf: &Client, name: &str) -> Result<Option<Stack>, String> {
    match cf.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out
            .stacks()
            .first()
            .filter(|s| status(s) != "DELETE_COMPLETE")
            .cloned()),
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(format!(
            "describe failed: {}",
            crate::aws_error::code_and_message(&e)
        )),
    }
}

/// Polls stack `name` until no operation is in progress, within
/// [`SETTLE_LIMIT`]; a failed or rolled-back stack is an error naming its
/// failed resources. `None` once it is deleted.
async fn settle(cf: &Client, name: &str) -> Result<Option<Stack>, StackError> {
    let fail = |message: String| StackError {
        stack: name.to_owned(),
        message,
    };
    let started = Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        let stack = describe(cf, name).await.map_err(&fail)?;
        let Some(stack) = stack else { return Ok(None) };
        let state = status(&stack);
        if !state.ends_with("_IN_PROGRESS") {
            if state.contains("FAILED") || state.contains("ROLLBACK") {
                return Err(fail(format!("{state}{}", failed_events(cf, name).await)));
            }
            return Ok(Some(stack));
        }
        if started.elapsed() > SETTLE_LIMIT {
            return Err(fail(format!(
                "still {state} after {} minutes",
                SETTLE_LIMIT.as_secs() / 60
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// `: Logical (Type) REASON; ...` for the stack's failed resource events, newest
/// first (at most five), or nothing when none can be read.
async fn failed_events(cf: &Client, name: &str) -> String {
    let Ok(out) = cf.describe_stack_events().stack_name(name).send().await else {
        return String::new();
    };
    let failed: Vec<String> = out
        .stack_events()
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("FAILED"))
        })
        .take(5)
        .map(|e| {
            format!(
                "{} ({}) {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("failed")
            )
        })
        .collect();
    if failed.is_empty() {
        String::new()
    } else {
        format!(": {}", failed.join("; "))
    }
}

/// True when `stack` already has `wanted`'s template, parameters and tags.
async fn same(cf: &Client, stack: &Stack, wanted: &Wanted<'_>) -> Result<bool, String> {
    let template = cf
        .get_template()
        .stack_name(wanted.name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading its template failed: {}",
                crate::aws_error::code_and_message(&e)
            )
        })?;
    if template.template_body().map(str::trim) != Some(wanted.template.trim()) {
        return Ok(false);
    }
    let deployed: BTreeMap<&str, &str> = stack
        .parameters()
        .iter()
        // An empty value may come back as no value at all.
        .filter_map(|p| Some((p.parameter_key()?, p.parameter_value().unwrap_or_default())))
        .collect();
    let parameters_same = wanted
        .parameters
        .iter()
        .all(|(k, v)| deployed.get(k) == Some(&v.as_str()));
    let deployed_tags: BTreeMap<&str, &str> = stack
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .collect();
    let wanted_tags: BTreeMap<&str, &str> = wanted
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(parameters_same && deployed_tags == wanted_tags)
}

fn parameters(wanted: &Wanted<'_>) -> Vec<Parameter> {
    wanted
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn tags(wanted: &Wanted<'_>) -> Vec<Tag> {
    wanted
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn status(stack: &Stack) -> &str {
    stack.stack_status().map_or("", |s| s.as_str())
}
