//! Background jobs: long operations on a thread of their own, with progress and the result
//! delivered on the JS thread.
//!
//! A job is a thread-safe function (Node-API) whose queue carries progress events and, last, the
//! result; the queue is first in, first out, so every progress event reaches the callback before
//! the promise settles. The job thread waits at each event until the callback has run, so a
//! callback that throws stops the job right there (nothing more is done) and the promise rejects
//! with what it threw. Errors of the job reject with the core error's code. Nothing here can
//! throw into the event loop. An event that the job does not wait for ([`Event::wait`]) may be
//! reported while the job holds a write lock; one it waits for should not be (the callback
//! could be waiting for that lock).

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use napi::sys;
use napi::Result;
use stowage_core::training::bundle::Progress;

use crate::js::{At, Js, Raw, Val};

/// A progress event of a job, as its callback receives it.
pub trait Event: Clone + Send + 'static {
    /// The object handed to the progress callback.
    fn to_js(&self, js: Js) -> Result<Val>;

    /// Whether the job waits until the callback has run (so a callback that throws stops the
    /// job at this very event). Events it does not wait for are delivered all the same, in
    /// order, before the promise settles.
    fn wait(&self) -> bool {
        true
    }
}

impl Event for Progress {
    fn to_js(&self, js: Js) -> Result<Val> {
        let obj = js.object_new()?;
        js.set_named(obj, "phase", js.string(self.phase.name())?)?;
        js.set_named(obj, "bytesDone", js.number(self.bytes_done as f64)?)?;
        js.set_named(obj, "bytesTotal", js.number(self.bytes_total as f64)?)?;
        if let Some(file) = &self.file {
            js.set_named(obj, "file", js.string(&file.to_string_lossy())?)?;
        }
        Ok(obj)
    }
}

impl Event for stowage_core::engine::backup::Copied {
    fn to_js(&self, js: Js) -> Result<Val> {
        let obj = js.object_new()?;
        js.set_named(obj, "phase", js.string(self.phase.name())?)?;
        js.set_named(obj, "bytesDone", js.number(self.done as f64)?)?;
        js.set_named(obj, "bytesTotal", js.number(self.total as f64)?)?;
        Ok(obj)
    }
}

/// The event of a job that reports no progress.
impl Event for () {
    fn to_js(&self, js: Js) -> Result<Val> {
        js.undefined()
    }
}

/// What the job thread sends to the JS thread. A progress event carries the sender the job
/// thread waits on; it is released when the event has been handled or dropped.
enum Msg<T, P> {
    Progress(P, SyncSender<()>),
    Done(stowage_core::Result<T>),
}

/// State owned by the JS thread for the life of the job.
struct Context<T, F, P> {
    deferred: sys::napi_deferred,
    finish: Option<F>,
    thrown: Option<sys::napi_ref>,
    cancel: Arc<AtomicBool>,
    alive: Arc<Mutex<bool>>,
    _output: std::marker::PhantomData<(T, P)>,
}

/// A thread-safe function handle that may cross to the job thread.
///
/// Node frees the function right after its finalizer ran: when the job thread has released it,
/// but also when the environment is torn down (a worker terminated mid-job) while the job thread
/// is still running. The finalizer clears `alive` under its lock, and every call through the
/// handle holds that lock and checks it first, so no call reaches a freed function. (The queue is
/// unbounded, so a call never waits for the JS thread while it holds the lock.)
struct Tsfn {
    raw: sys::napi_threadsafe_function,
    alive: Arc<Mutex<bool>>,
}
// SAFETY: Node-API allows calling and releasing a thread-safe function from any thread.
unsafe impl Send for Tsfn {}

impl Tsfn {
    fn post<T, P>(&self, msg: Msg<T, P>, mode: sys::napi_threadsafe_function_call_mode) {
        let alive = lock(&self.alive);
        let data = Box::into_raw(Box::new(msg));
        let status = if *alive {
            unsafe { sys::napi_call_threadsafe_function(self.raw, data.cast(), mode) }
        } else {
            sys::Status::napi_closing
        };
        if status != sys::Status::napi_ok {
            // The environment is gone (worker terminated, process exiting): nobody to tell.
            drop(unsafe { Box::from_raw(data) });
        }
    }

    fn release(self) {
        let alive = lock(&self.alive);
        if *alive {
            unsafe {
                sys::napi_release_threadsafe_function(
                    self.raw,
                    sys::ThreadsafeFunctionReleaseMode::release,
                )
            };
        }
    }
}

/// The flag's guard; a panic elsewhere while it was held cannot make the flag unreadable.
fn lock(alive: &Mutex<bool>) -> MutexGuard<'_, bool> {
    alive.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` on a new thread and returns a promise. `work` gets a progress sink; when
/// `on_progress` is a function it is called with each event's [`Event::to_js`] object.
/// `finish` turns the result into a JS value on the JS thread.
pub fn spawn<T, P, W, F>(js: Js, on_progress: Option<Val>, work: W, finish: F) -> Result<Raw>
where
    T: Send + 'static,
    P: Event,
    W: FnOnce(&mut dyn FnMut(&P) -> stowage_core::Result<()>) -> stowage_core::Result<T>
        + Send
        + 'static,
    F: FnOnce(Js, T) -> Result<Val> + 'static,
{
    let env = js.0;
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    check(js, unsafe {
        sys::napi_create_promise(env, &mut deferred, &mut promise)
    })?;
    let cancel = Arc::new(AtomicBool::new(false));
    let alive = Arc::new(Mutex::new(true));
    let ctx = Box::into_raw(Box::new(Context::<T, F, P> {
        deferred,
        finish: Some(finish),
        thrown: None,
        cancel: cancel.clone(),
        alive: alive.clone(),
        _output: std::marker::PhantomData,
    }));
    let name = js.string("stowage.job")?;
    let mut tsfn = ptr::null_mut();
    let status = unsafe {
        sys::napi_create_threadsafe_function(
            env,
            on_progress.unwrap_or(ptr::null_mut()),
            ptr::null_mut(),
            name,
            0,
            1,
            ctx.cast(),
            Some(finalize::<T, F, P>),
            ctx.cast(),
            Some(call_js::<T, F, P>),
            &mut tsfn,
        )
    };
    if status != sys::Status::napi_ok {
        drop(unsafe { Box::from_raw(ctx) });
        return check(js, status).map(|()| Raw(promise));
    }
    let tsfn = Tsfn { raw: tsfn, alive };
    let report = on_progress.is_some();
    let spawned = std::thread::Builder::new()
        .name("stowage-job".into())
        .spawn(move || {
            let mut sink = |p: &P| {
                if cancel.load(Ordering::Acquire) {
                    return Err(stowage_core::Error::Cancelled);
                }
                if report {
                    let (handled, wait) = sync_channel(1);
                    tsfn.post::<T, P>(
                        Msg::Progress(p.clone(), handled),
                        sys::ThreadsafeFunctionCallMode::blocking,
                    );
                    if p.wait() {
                        // Err means the event was dropped unhandled (the environment is going
                        // away).
                        let _ = wait.recv();
                        if cancel.load(Ordering::Acquire) {
                            return Err(stowage_core::Error::Cancelled);
                        }
                    }
                }
                Ok(())
            };
            let result = work(&mut sink);
            tsfn.post::<T, P>(Msg::Done(result), sys::ThreadsafeFunctionCallMode::blocking);
            tsfn.release();
        });
    if let Err(e) = spawned {
        // The closure (and the thread-safe function with it) was never started: settle here.
        let err = js.core_value(&stowage_core::Error::InvalidArg(format!(
            "cannot start a thread: {e}"
        )))?;
        unsafe { sys::napi_reject_deferred(env, deferred, err) };
    }
    Ok(Raw(promise))
}

/// `options.onProgress` of a long operation: a function, or nothing (`options` itself may be
/// absent).
pub fn progress_option(js: Js, func: &str, options: Val) -> Result<Option<Val>> {
    if js.is_nullish(options)? {
        return Ok(None);
    }
    let options = js.object(
        options,
        At {
            func,
            arg: "options",
        },
    )?;
    let cb = js.get(options, "onProgress")?;
    if js.is_nullish(cb)? {
        return Ok(None);
    }
    if js.type_of(cb)? != napi::sys::ValueType::napi_function {
        return Err(js.type_error(
            At {
                func,
                arg: "options.onProgress",
            },
            "a function",
            cb,
        ));
    }
    Ok(Some(cb))
}

/// A promise already rejected with the pending exception (an argument error of an async method,
/// which should reject rather than throw).
pub fn rejected(js: Js, err: napi::Error) -> Result<Raw> {
    let value = match js.take_exception() {
        Some(v) => v,
        None => js.error_value(crate::js::Kind::Error, "ERR_INTERNAL", &err.reason)?,
    };
    let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
    check(js, unsafe {
        sys::napi_create_promise(js.0, &mut deferred, &mut promise)
    })?;
    check(js, unsafe {
        sys::napi_reject_deferred(js.0, deferred, value)
    })?;
    Ok(Raw(promise))
}

fn check(js: Js, status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(js.throw(
            crate::js::Kind::Error,
            "ERR_NAPI",
            &format!("Node-API call failed with status {status}"),
        ))
    }
}

unsafe extern "C" fn call_js<T, F, P>(
    env: sys::napi_env,
    js_cb: sys::napi_value,
    context: *mut c_void,
    data: *mut c_void,
) where
    F: FnOnce(Js, T) -> Result<Val>,
    P: Event,
{
    if data.is_null() {
        return;
    }
    let msg = unsafe { Box::from_raw(data.cast::<Msg<T, P>>()) };
    if env.is_null() || context.is_null() {
        return;
    }
    let ctx = unsafe { &mut *context.cast::<Context<T, F, P>>() };
    let js = Js(env);
    match *msg {
        Msg::Progress(p, _handled) => {
            if ctx.thrown.is_some() || js_cb.is_null() {
                return;
            }
            let Ok(event) = p.to_js(js) else {
                js.take_exception();
                return;
            };
            let mut undefined = ptr::null_mut();
            let mut ret = ptr::null_mut();
            unsafe { sys::napi_get_undefined(env, &mut undefined) };
            let status =
                unsafe { sys::napi_call_function(env, undefined, js_cb, 1, &event, &mut ret) };
            if status != sys::Status::napi_ok {
                if let Some(exc) = js.take_exception() {
                    let mut r = ptr::null_mut();
                    if unsafe { sys::napi_create_reference(env, exc, 1, &mut r) }
                        == sys::Status::napi_ok
                    {
                        ctx.thrown = Some(r);
                    }
                }
                ctx.cancel.store(true, Ordering::Release);
            }
        }
        Msg::Done(result) => {
            let settled = if let Some(r) = ctx.thrown.take() {
                let mut value = ptr::null_mut();
                unsafe { sys::napi_get_reference_value(env, r, &mut value) };
                unsafe { sys::napi_delete_reference(env, r) };
                Err(value)
            } else {
                match result {
                    Ok(output) => match ctx.finish.take().map(|f| f(js, output)) {
                        Some(Ok(value)) => Ok(value),
                        _ => Err(js
                            .take_exception()
                            .or_else(|| js.core_value(&stowage_core::Error::Cancelled).ok())
                            .unwrap_or(ptr::null_mut())),
                    },
                    Err(e) => Err(js.core_value(&e).unwrap_or(ptr::null_mut())),
                }
            };
            match settled {
                Ok(value) => unsafe { sys::napi_resolve_deferred(env, ctx.deferred, value) },
                Err(value) => unsafe { sys::napi_reject_deferred(env, ctx.deferred, value) },
            };
        }
    }
}

unsafe extern "C" fn finalize<T, F, P>(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    let ctx = unsafe { Box::from_raw(data.cast::<Context<T, F, P>>()) };
    *lock(&ctx.alive) = false;
    if let (Some(r), false) = (ctx.thrown, env.is_null()) {
        unsafe { sys::napi_delete_reference(env, r) };
    }
}
