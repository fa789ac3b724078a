//! One k6 VU: a QuickJS runtime living on its own coroutine stack.
//!
//! [`Vu::new`] runs the script's init context (the prelude, then the script's
//! top level) on a fresh coroutine; [`Vu::start`] begins an iteration of an
//! exported function and [`Vu::resume`] answers each [`Op`] it stops at, until
//! an [`Ended`]. Between two calls the VU is a suspended coroutine: a request
//! in flight blocks only it, never the thread that drives it. This module owns
//! that life cycle; the API the script sees is `native.rs` + `js/prelude.js`.
//!
//! The runtime is made and dropped inside the coroutine, so QuickJS's stack
//! checks measure the coroutine's own stack ([`STACK_SIZE`], of which
//! [`JS_STACK_LIMIT`] may be used by JavaScript before it gets a
//! `RangeError`), and nothing of it is reachable from outside but through
//! [`Input`] and [`Output`].

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use rquickjs::context::intrinsic;
use rquickjs::{CaughtError, Context, Ctx, Function, Module, Object, Persistent, Runtime, Value};

use crate::ScriptError;
use crate::native::{self, Bridge};
use crate::program::{Modules, Program};
use crate::protocol::{Answer, Ended, Input, LogFn, Output, Start, Step};

/// Each VU's coroutine stack (virtual: only the pages touched take memory).
pub const STACK_SIZE: usize = 512 * 1024;

/// How much of [`STACK_SIZE`] JavaScript may use; the rest is for the native
/// calls beneath it.
pub const JS_STACK_LIMIT: usize = 384 * 1024;

/// What a VU is made with.
#[derive(Clone)]
pub struct VuConfig {
    /// k6's `__VU` (from 1; 0 for the instance that only reads `options`).
    pub vu: u64,
    /// k6's `__ENV`.
    pub env: BTreeMap<String, String>,
    /// What `setup()` returned, as JSON text: every iteration gets a copy.
    pub setup_data: Option<String>,
    /// Tags every sample carries (k6's `tags` option).
    pub tags: BTreeMap<String, String>,
    /// k6's `discardResponseBodies`.
    pub discard_response_bodies: bool,
    /// Console output.
    pub log: LogFn,
    /// Asked every few thousand instructions: `true` ends the running
    /// iteration (the test stops), even one that makes no request.
    pub halted: Option<HaltFn>,
}

/// See [`VuConfig::halted`].
pub type HaltFn = Arc<dyn Fn() -> bool + Send + Sync>;

/// A k6 VU (see the module documentation).
pub struct Vu {
    co: Coroutine<Input, Output, (), DefaultStack>,
    /// Whether an iteration is between [`Vu::start`] and its [`Ended`].
    in_iteration: bool,
}

// SAFETY: a VU's coroutine holds its QuickJS runtime and everything made from
// it on its own stack; none of it is shared with anything outside (the only
// ways in and out are the owned `Input` and `Output` values, and the `Program`
// behind an `Arc`, which is `Sync`), and the native functions keep no
// references to thread-local state across a suspension. Moving the whole
// suspended coroutine to another thread is therefore sound; it is never
// resumed from two threads at once (`resume` takes `&mut self`).
unsafe impl Send for Vu {}

impl Vu {
    /// A VU of `program`: runs the init context. An exception there (or a
    /// script that does not compile) is a [`ScriptError::Init`].
    pub fn new(program: Arc<Program>, config: VuConfig) -> Result<Vu, ScriptError> {
        let stack = DefaultStack::new(STACK_SIZE).map_err(|e| ScriptError::Stack(e.to_string()))?;
        let co = Coroutine::with_stack(stack, move |y: &Yielder<Input, Output>, _: Input| {
            body(y, program, config);
        });
        let mut vu = Vu {
            co,
            in_iteration: false,
        };
        match vu.co.resume(Input::Quit) {
            CoroutineResult::Yield(Output::Ready) => Ok(vu),
            CoroutineResult::Yield(Output::Failed(e)) => Err(ScriptError::Init(e)),
            _ => Err(ScriptError::Init("the VU ended during init".into())),
        }
    }

    /// Starts an iteration: returns its first op, or its end.
    pub fn start(&mut self, start: Start) -> Step {
        self.in_iteration = true;
        self.step(Input::Start(start))
    }

    /// Answers the op the VU stopped at: returns the next op, or the end.
    pub fn resume(&mut self, answer: Answer) -> Step {
        if !self.in_iteration {
            return Step::Ended(Ended::Interrupted);
        }
        self.step(Input::Answer(answer))
    }

    fn step(&mut self, input: Input) -> Step {
        let step = match self.co.resume(input) {
            CoroutineResult::Yield(Output::Step(step)) => step,
            CoroutineResult::Yield(Output::Failed(e)) => Step::Ended(Ended::Exception(e)),
            CoroutineResult::Yield(Output::Ready) | CoroutineResult::Return(()) => {
                Step::Ended(Ended::Interrupted)
            }
        };
        if matches!(step, Step::Ended(_)) {
            self.in_iteration = false;
        }
        step
    }
}

impl Drop for Vu {
    fn drop(&mut self) {
        // Unwinding a coroutine suspended inside QuickJS would unwind through C
        // frames: instead stop its iteration (every op answered `Stop`, the
        // interrupt handler ends the script) and let it return.
        let mut guard = 0;
        while self.in_iteration && guard < 10_000 {
            let _ = self.resume(Answer::Stop);
            guard += 1;
        }
        if !self.co.done() && self.co.started() {
            let _ = self.co.resume(Input::Quit);
        }
    }
}

/// The coroutine's body: the VU's whole life.
fn body(y: &Yielder<Input, Output>, program: Arc<Program>, config: VuConfig) {
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            y.suspend(Output::Failed(e.to_string()));
            return;
        }
    };
    rt.set_max_stack_size(JS_STACK_LIMIT);
    rt.set_loader(Modules(program.clone()), Modules(program.clone()));
    let bridge = Bridge::new(y, program.clone(), config.log.clone());
    let stopping = bridge.stopping.clone();
    let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
    let due = deadline.clone();
    let halted = config.halted.clone();
    rt.set_interrupt_handler(Some(Box::new(move || {
        // Called every few thousand instructions: a stop, or a deadline passed.
        if due.get().is_some_and(|d| Instant::now() >= d) || halted.as_ref().is_some_and(|h| h()) {
            stopping.set(true);
        }
        stopping.get()
    })));
    // Every intrinsic a k6 script may use; not `Performance`, `WeakRef` and
    // `DOMException` (browser APIs k6 does not have either).
    type Intrinsics = (
        intrinsic::Date,
        intrinsic::Eval,
        intrinsic::RegExpCompiler,
        intrinsic::RegExp,
        intrinsic::Json,
        intrinsic::Proxy,
        intrinsic::MapSet,
        intrinsic::TypedArrays,
        intrinsic::Promise,
    );
    let context = match Context::custom::<Intrinsics>(&rt) {
        Ok(c) => c,
        Err(e) => {
            y.suspend(Output::Failed(e.to_string()));
            return;
        }
    };
    let loaded = context.with(|ctx| init(&ctx, &bridge, &program, &config));
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            y.suspend(Output::Failed(e));
            return;
        }
    };
    // What init left unreachable (cycles of the parsed modules) is freed now,
    // not when the runtime's allocations next reach the collector's threshold.
    rt.run_gc();
    let mut out = Output::Ready;
    loop {
        match y.suspend(out) {
            Input::Start(start) => {
                bridge.stopping.set(false);
                deadline.set(start.deadline);
                let ended = context.with(|ctx| iterate(&ctx, &loaded, &start, &bridge));
                bridge.stopping.set(false);
                out = Output::Step(Step::Ended(ended));
            }
            Input::Answer(_) => out = Output::Step(Step::Ended(Ended::Interrupted)),
            Input::Quit => break,
        }
    }
    drop(loaded);
    drop(context);
    drop(rt);
}

/// What init leaves for the iterations.
struct Loaded {
    namespace: Persistent<Object<'static>>,
    begin: Persistent<Function<'static>>,
    data: Option<Persistent<Value<'static>>>,
    vu: u64,
}

/// The init context: the prelude, globals, then the script.
fn init(
    ctx: &Ctx<'_>,
    bridge: &std::rc::Rc<Bridge>,
    program: &Program,
    config: &VuConfig,
) -> Result<Loaded, String> {
    let caught = |e: rquickjs::Error| describe(ctx, e);
    native::install(ctx, bridge).map_err(caught)?;
    ctx.eval::<(), _>(include_str!("js/prelude.js"))
        .map_err(caught)?;
    let globals = ctx.globals();
    let env = Object::new(ctx.clone()).map_err(caught)?;
    for (k, v) in &config.env {
        env.set(k.as_str(), v.as_str()).map_err(caught)?;
    }
    globals.set("__ENV", env).map_err(caught)?;
    globals.set("__VU", config.vu).map_err(caught)?;
    globals.set("__ITER", 0).map_err(caught)?;
    let k6: Object = globals.get("__k6").map_err(caught)?;
    let tags = Object::new(ctx.clone()).map_err(caught)?;
    for (k, v) in &config.tags {
        tags.set(k.as_str(), v.as_str()).map_err(caught)?;
    }
    let configure: Function = k6.get("configure").map_err(caught)?;
    configure
        .call::<_, ()>((tags, config.discard_response_bodies))
        .map_err(caught)?;
    let source = program.open(program.main()).unwrap_or_default().to_vec();
    let module = Module::declare(ctx.clone(), program.main(), source).map_err(caught)?;
    let (module, promise) = module.eval().map_err(caught)?;
    promise.finish::<()>().map_err(caught)?;
    let namespace = module.namespace().map_err(caught)?;
    let data = match &config.setup_data {
        Some(json) => Some(Persistent::save(
            ctx,
            ctx.json_parse(json.as_str()).map_err(caught)?,
        )),
        None => None,
    };
    Ok(Loaded {
        namespace: Persistent::save(ctx, namespace),
        begin: Persistent::save(ctx, k6.get::<_, Function>("begin").map_err(caught)?),
        data,
        vu: config.vu,
    })
}

/// Runs one iteration of `start.exec`.
fn iterate(ctx: &Ctx<'_>, loaded: &Loaded, start: &Start, bridge: &Bridge) -> Ended {
    let run = || -> rquickjs::Result<Option<String>> {
        if start.exec == INSPECT {
            return inspection(ctx, loaded);
        }
        let begin = loaded.begin.clone().restore(ctx)?;
        begin.call::<_, ()>((
            loaded.vu,
            start.iteration,
            start.iteration_in_scenario,
            start.scenario.as_str(),
            start.executor.as_str(),
        ))?;
        let namespace = loaded.namespace.clone().restore(ctx)?;
        let f: Value = namespace.get(start.exec.as_str())?;
        let Some(f) = f.into_function() else {
            return Err(rquickjs::Exception::throw_reference(
                ctx,
                &format!("the script exports no function `{}`", start.exec),
            ));
        };
        let result: Value = match &loaded.data {
            Some(data) => f.call((data.clone().restore(ctx)?,))?,
            None => f.call(())?,
        };
        if result.is_undefined() {
            return Ok(None);
        }
        ctx.json_stringify(result)?
            .map(|s| s.to_string())
            .transpose()
    };
    match run() {
        Ok(value) => Ended::Returned(value),
        Err(e) => {
            if bridge.stopping.get() {
                let _ = ctx.catch();
                return Ended::Interrupted;
            }
            Ended::Exception(describe(ctx, e))
        }
    }
}

/// The [`Start::exec`] that reads the script's `options` and exports instead
/// of running a function (see `inspect.rs`).
pub(crate) const INSPECT: &str = "\u{0}inspect";

/// `{"options": ..., "exports": {"name": "function", ...}}` of the script.
fn inspection(ctx: &Ctx<'_>, loaded: &Loaded) -> rquickjs::Result<Option<String>> {
    let namespace = loaded.namespace.clone().restore(ctx)?;
    let out = Object::new(ctx.clone())?;
    let exports = Object::new(ctx.clone())?;
    for key in namespace.keys::<String>() {
        let key = key?;
        let v: Value = namespace.get(key.as_str())?;
        let kind = if v.is_function() {
            "function"
        } else {
            v.type_name()
        };
        exports.set(key.as_str(), kind)?;
    }
    out.set("exports", exports)?;
    let options: Value = namespace.get("options")?;
    out.set("options", options)?;
    let k6: Object = ctx.globals().get("__k6")?;
    let declared: Value = k6.get("declared")?;
    out.set("metrics", declared)?;
    ctx.json_stringify(out)?.map(|s| s.to_string()).transpose()
}

/// k6's one-line rendering of an exception: `Error: boom at default (script.js:12:5)`.
fn describe(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    match CaughtError::from_error(ctx, e) {
        CaughtError::Exception(ex) => {
            let name: String = ex
                .get::<_, Option<String>>("name")
                .ok()
                .flatten()
                .unwrap_or_else(|| "Error".into());
            let message = ex.message().unwrap_or_default();
            let place = ex
                .stack()
                .and_then(|s| {
                    s.lines()
                        .map(str::trim)
                        .find(|l| l.starts_with("at ") && !l.contains("<native>"))
                        .map(str::to_owned)
                })
                .map(|at| format!(" {at}"))
                .unwrap_or_default();
            format!("{name}: {message}{place}")
        }
        CaughtError::Value(v) => {
            let text = ctx
                .json_stringify(v)
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| "a value".into());
            format!("Uncaught {text}")
        }
        CaughtError::Error(e) => e.to_string(),
    }
}
