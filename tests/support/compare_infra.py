"""infra/'s Terraform against its CloudFormation, parsed offline: python-hcl2 for
the .tf files, cfn-lint's own YAML loader (short-form intrinsics) for the
templates. Both must deploy the same kinds of resources and grant or deny the
same permissions (each statement's Sid, Effect, Actions and the shape of its
Resources). Prints `same` or each difference on its own line (exit 1).

    python compare_infra.py INFRA_DIR
"""

import glob
import os
import re
import sys

import hcl2
from cfnlint.decode import cfn_yaml

INFRA = sys.argv[1]

# CloudFormation resource type -> the Terraform resources that make it.
KINDS = {
    "AWS::S3::Bucket": {
        "aws_s3_bucket",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_lifecycle_configuration",
    },
    "AWS::S3::BucketPolicy": {"aws_s3_bucket_policy"},
    "AWS::IAM::ManagedPolicy": {"aws_iam_policy"},
    "AWS::IAM::Role": {"aws_iam_role", "aws_iam_role_policy"},
    "AWS::Logs::LogGroup": {"aws_cloudwatch_log_group"},
    "AWS::Lambda::Function": {"aws_lambda_function"},
    "AWS::Lambda::EventInvokeConfig": {"aws_lambda_function_event_invoke_config"},
}


def as_list(v):
    return v if isinstance(v, list) else [v]


def one(v):
    """python-hcl2 wraps each attribute's value in a list of one."""
    while isinstance(v, list) and len(v) == 1 and isinstance(v[0], (list, str)):
        if isinstance(v[0], str):
            return v[0].strip('"')
        v = v[0]
    return [x.strip('"') if isinstance(x, str) else x for x in v] if isinstance(v, list) else v


def key(sid, effect, actions):
    """A statement's Sid, or for one without (a trust policy) its effect and actions."""
    return sid or f"{effect} {','.join(sorted(as_list(actions)))}"


def arn_text(r):
    """A resource as text: CloudFormation's Fn::Sub / Fn::GetAtt / Ref as the
    `${...}` they stand for, Terraform's interpolations as they are."""
    if isinstance(r, dict) and len(r) == 1:
        (fn, arg), = r.items()
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else arg[0]
        if fn == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else arg) + "}"
        if fn == "Ref":
            return "${" + arg + "}"
    return str(r)


def resource_shape(r):
    """A resource ARN with every interpolation as X and the ARN prefixes that the
    flavours spell differently (a bucket's or a log group's own ARN) folded to X."""
    text = re.sub(r"\$\{[^}]*\}", "X", arn_text(r))
    text = re.sub(r"arn:X:logs:X:X:log-group:X", "X", text)
    text = re.sub(r"arn:X:s3:::X", "X", text)
    return text


def cfn_statements():
    out = {}
    kinds = set()
    for path in glob.glob(os.path.join(INFRA, "cloudformation", "*.yaml")):
        template = cfn_yaml.load(path)
        for name, res in template.get("Resources", {}).items():
            kinds.add(res["Type"])
            props = res.get("Properties", {})
            docs = []
            if "AssumeRolePolicyDocument" in props:
                docs.append(props["AssumeRolePolicyDocument"])
            if "PolicyDocument" in props:
                docs.append(props["PolicyDocument"])
            for p in props.get("Policies", []):
                docs.append(p["PolicyDocument"])
            for doc in docs:
                for s in as_list(doc["Statement"]):
                    k = key(s.get("Sid"), s["Effect"], s["Action"])
                    out[k] = statement(s["Effect"], s["Action"], s.get("Resource", []))
    return kinds, out


def statement(effect, actions, resources):
    return (
        effect,
        tuple(sorted(as_list(actions))),
        tuple(sorted({resource_shape(r) for r in as_list(resources)})),
    )


def tf_statements():
    out = {}
    kinds = set()
    for path in glob.glob(os.path.join(INFRA, "terraform", "**", "*.tf"), recursive=True):
        with open(path) as f:
            doc = hcl2.load(f)
        for block in doc.get("resource", []):
            for kind in block:
                kinds.add(kind.strip('"'))
        for block in doc.get("data", []):
            for kind, named in block.items():
                if kind.strip('"') != "aws_iam_policy_document":
                    continue
                for body in named.values():
                    if not isinstance(body, dict):
                        continue
                    for s in body.get("statement", []):
                        effect = one(s.get("effect", ["Allow"]))
                        actions = as_list(one(s["actions"]))
                        k = key(one(s["sid"]) if "sid" in s else None, effect, actions)
                        out[k] = statement(effect, actions, as_list(one(s.get("resources", [[]]))))
    return kinds, out


cfn_kinds, cfn = cfn_statements()
tf_kinds, tf = tf_statements()
problems = []
for cfn_kind in sorted(cfn_kinds):
    made_by = KINDS.get(cfn_kind)
    if made_by is None:
        problems.append(f"CloudFormation {cfn_kind}: no Terraform counterpart known")
    elif not made_by <= tf_kinds:
        problems.append(f"CloudFormation {cfn_kind}: Terraform lacks {sorted(made_by - tf_kinds)}")
expected_tf = set().union(*(KINDS[k] for k in cfn_kinds if k in KINDS))
for extra in sorted(tf_kinds - expected_tf):
    problems.append(f"Terraform {extra}: no CloudFormation counterpart")
for sid in sorted(set(cfn) | set(tf)):
    if cfn.get(sid) != tf.get(sid):
        problems.append(f"statement {sid}: CloudFormation {cfn.get(sid)} != Terraform {tf.get(sid)}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"same: {len(cfn_kinds)} resource kinds, {len(cfn)} statements")
