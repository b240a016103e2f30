//! The few Node-API operations the binding needs, over `napi::sys`, with stowage's error rules.
//!
//! Arguments arrive as raw `napi_value`s and are checked here, so a wrong type becomes a
//! `TypeError` whose message names the function and argument (`code: 'ERR_INVALID_ARG_TYPE'`),
//! and an integer that cannot be represented exactly a `RangeError` (`'ERR_OUT_OF_RANGE'`).
//! Results are built here too: SQLite values become JS values the way better-sqlite3 returns
//! them, except that integers beyond ±(2^53−1) become BigInts instead of being rounded.

use std::ffi::c_void;
use std::ptr;

use napi::sys;
use napi::{Error, Result, Status};
use stowage_core::Rows;
use stowage_core::Value;

/// Largest integer a JS number holds exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// The longest array argument converted: about the most items a dense JS array can hold in V8.
/// Only a sparse array (`a.length = 2 ** 32 - 1`) is longer, and it is a `RangeError` rather
/// than billions of `undefined`s to read.
pub const MAX_ITEMS: u32 = 1 << 27;

/// Items converted per handle scope by [`Js::map_items`].
const SCOPE_ITEMS: u32 = 4096;

/// Which constructor a thrown error gets.
#[derive(Clone, Copy)]
pub enum Kind {
    Error,
    TypeError,
    RangeError,
}

/// A Node-API environment for the duration of one call.
#[derive(Clone, Copy)]
pub struct Js(pub sys::napi_env);

/// A JS value of the current call.
pub type Val = sys::napi_value;

/// Where an argument was found, for error messages: `insertLog: row.step`.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub func: &'a str,
    pub arg: &'a str,
}

/// Names argument `arg` of function `func` for error messages.
pub(crate) fn at<'a>(func: &'a str, arg: &'a str) -> At<'a> {
    At { func, arg }
}

/// A function's `options` argument: `None` when null or undefined, else it must be an object
/// (a TypeError naming `<func>: options` otherwise).
pub(crate) fn opt_options(js: Js, v: Val, func: &str) -> Result<Option<Val>> {
    if js.is_nullish(v)? {
        return Ok(None);
    }
    js.object(v, at(func, "options")).map(Some)
}

impl Js {
    /// Turns a failed Node-API status into an error, keeping a JS exception that is already
    /// pending (a throwing getter, say) as the one that propagates.
    pub fn check_status(self, status: sys::napi_status) -> Result<()> {
        self.check(status)
    }

    fn check(self, status: sys::napi_status) -> Result<()> {
        if status == sys::Status::napi_ok {
            return Ok(());
        }
        let mut pending = false;
        unsafe { sys::napi_is_exception_pending(self.0, &mut pending) };
        if pending {
            return Err(Error::new(
                Status::PendingException,
                "a JS exception is pending",
            ));
        }
        Err(self.throw(
            Kind::Error,
            "ERR_NAPI",
            &format!("Node-API call failed with status {status}"),
        ))
    }

    /// A new error object with `code`, not thrown.
    pub fn error_value(self, kind: Kind, code: &str, message: &str) -> Result<Val> {
        let (code_v, msg_v) = (self.string(code)?, self.string(message)?);
        let mut err = ptr::null_mut();
        let create = match kind {
            Kind::Error => sys::napi_create_error,
            Kind::TypeError => sys::napi_create_type_error,
            Kind::RangeError => sys::napi_create_range_error,
        };
        self.check(unsafe { create(self.0, code_v, msg_v, &mut err) })?;
        Ok(err)
    }

    /// Throws a new error with `code` and returns the marker napi-rs expects after a throw.
    /// When an exception is already pending, that one is kept.
    pub fn throw(self, kind: Kind, code: &str, message: &str) -> Error {
        if self
            .take_exception()
            .map(|e| unsafe { sys::napi_throw(self.0, e) })
            .is_none()
        {
            if let Ok(err) = self.error_value(kind, code, message) {
                unsafe { sys::napi_throw(self.0, err) };
            }
        }
        Error::new(Status::PendingException, message.to_string())
    }

    /// The pending exception, cleared, if there is one.
    pub fn take_exception(self) -> Option<Val> {
        let mut pending = false;
        unsafe { sys::napi_is_exception_pending(self.0, &mut pending) };
        if !pending {
            return None;
        }
        let mut exc = ptr::null_mut();
        (unsafe { sys::napi_get_and_clear_last_exception(self.0, &mut exc) }
            == sys::Status::napi_ok)
            .then_some(exc)
    }

    /// A stowage-core error as a JS `Error` value with its code, not thrown.
    pub fn core_value(self, err: &stowage_core::Error) -> Result<Val> {
        self.error_value(Kind::Error, err.code(), &err.to_string())
    }

    /// Throws a stowage-core error as a JS `Error` with its code.
    pub fn core(self, err: stowage_core::Error) -> Error {
        self.throw(Kind::Error, err.code(), &err.to_string())
    }

    /// `TypeError [ERR_ILLEGAL_CONSTRUCTOR]`: stowage's objects come from `openStore`, as `how`
    /// says, not from their class.
    pub fn illegal_constructor(self, class: &str, how: &str) -> Error {
        self.throw(
            Kind::TypeError,
            "ERR_ILLEGAL_CONSTRUCTOR",
            &format!("{class} cannot be constructed directly; {how}"),
        )
    }

    /// `TypeError [ERR_INVALID_ARG_TYPE]: <func>: <arg> must be <expected>; received <what>`.
    pub fn type_error(self, at: At<'_>, expected: &str, got: Val) -> Error {
        let got = self.describe(got);
        self.throw(
            Kind::TypeError,
            "ERR_INVALID_ARG_TYPE",
            &format!("{}: {} must be {expected}; received {got}", at.func, at.arg),
        )
    }

    /// `RangeError [ERR_OUT_OF_RANGE]: <func>: <arg> <what>`.
    pub fn range_error(self, at: At<'_>, what: &str) -> Error {
        self.throw(
            Kind::RangeError,
            "ERR_OUT_OF_RANGE",
            &format!("{}: {} {what}", at.func, at.arg),
        )
    }

    // ---- inspecting values ------------------------------------------------------------------

    pub fn type_of(self, v: Val) -> Result<sys::napi_valuetype> {
        let mut t = 0;
        self.check(unsafe { sys::napi_typeof(self.0, v, &mut t) })?;
        Ok(t)
    }

    /// `null` or `undefined`.
    pub fn is_nullish(self, v: Val) -> Result<bool> {
        let t = self.type_of(v)?;
        Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
    }

    pub fn is_array(self, v: Val) -> Result<bool> {
        let mut r = false;
        self.check(unsafe { sys::napi_is_array(self.0, v, &mut r) })?;
        Ok(r)
    }

    /// JS truthiness (`!!v`).
    pub fn truthy(self, v: Val) -> Result<bool> {
        let mut b = ptr::null_mut();
        self.check(unsafe { sys::napi_coerce_to_bool(self.0, v, &mut b) })?;
        let mut r = false;
        self.check(unsafe { sys::napi_get_value_bool(self.0, b, &mut r) })?;
        Ok(r)
    }

    /// `String(v)`. A Symbol, or an object that has no string form (`Object.create(null)`, a
    /// `toString` that throws or returns an object), is a `TypeError` whose `cause` is what
    /// `String(v)` threw.
    pub fn js_string(self, v: Val, at: At<'_>) -> Result<String> {
        if self.type_of(v)? == sys::ValueType::napi_symbol {
            return Err(self.type_error(at, "a value with a string form", v));
        }
        let mut s = ptr::null_mut();
        if unsafe { sys::napi_coerce_to_string(self.0, v, &mut s) } == sys::Status::napi_ok {
            return self.read_string(s);
        }
        Err(self.type_error_caused(&format!(
            "{}: {} must be a value with a string form; String() of it threw",
            at.func, at.arg
        )))
    }

    /// Throws `TypeError [ERR_INVALID_ARG_TYPE]` with `message`, whose `cause` is the exception
    /// pending now (what a conversion of the caller's value threw).
    fn type_error_caused(self, message: &str) -> Error {
        let cause = self.take_exception();
        if let Ok(err) = self.error_value(Kind::TypeError, "ERR_INVALID_ARG_TYPE", message) {
            if let Some(cause) = cause {
                // Without its cause the error still says what went wrong.
                let _ = self.set_named(err, "cause", cause);
            }
            unsafe { sys::napi_throw(self.0, err) };
        }
        Error::new(Status::PendingException, message.to_string())
    }

    fn read_string(self, v: Val) -> Result<String> {
        let mut len = 0;
        self.check(unsafe {
            sys::napi_get_value_string_utf8(self.0, v, ptr::null_mut(), 0, &mut len)
        })?;
        let mut buf = vec![0u8; len + 1];
        let mut written = 0;
        self.check(unsafe {
            sys::napi_get_value_string_utf8(
                self.0,
                v,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        })?;
        buf.truncate(written);
        // Node-API writes UTF-8 (lone surrogates become U+FFFD), so this cannot fail.
        Ok(String::from_utf8(buf).unwrap_or_default())
    }

    pub fn read_f64(self, v: Val) -> Result<f64> {
        let mut x = 0.0;
        self.check(unsafe { sys::napi_get_value_double(self.0, v, &mut x) })?;
        Ok(x)
    }

    /// A short description of a value for error messages: `number 5`, `an object`.
    fn describe(self, v: Val) -> String {
        let t = match self.type_of(v) {
            Ok(t) => t,
            Err(_) => return "an unreadable value".into(),
        };
        match t {
            sys::ValueType::napi_undefined => "undefined".into(),
            sys::ValueType::napi_null => "null".into(),
            sys::ValueType::napi_boolean
            | sys::ValueType::napi_number
            | sys::ValueType::napi_bigint => {
                let kind = match t {
                    sys::ValueType::napi_boolean => "boolean",
                    sys::ValueType::napi_number => "number",
                    _ => "bigint",
                };
                let mut s = ptr::null_mut();
                let text = if unsafe { sys::napi_coerce_to_string(self.0, v, &mut s) }
                    == sys::Status::napi_ok
                {
                    self.read_string(s).unwrap_or_default()
                } else {
                    String::new()
                };
                format!("{kind} {text}")
            }
            sys::ValueType::napi_string => {
                let s = self.read_string(v).unwrap_or_default();
                let short: String = s.chars().take(40).collect();
                if short.len() < s.len() {
                    format!("string {short:?}…")
                } else {
                    format!("string {short:?}")
                }
            }
            sys::ValueType::napi_symbol => "a symbol".into(),
            sys::ValueType::napi_function => "a function".into(),
            _ if self.is_array(v).unwrap_or(false) => "an array".into(),
            _ => "an object".into(),
        }
    }

    /// `obj[key]` for a key made once with [`Js::string`] and an `obj` known to be an object.
    pub fn get_key(self, obj: Val, key: Val) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_property(self.0, obj, key, &mut v) })?;
        Ok(v)
    }

    /// `obj[key]`; `undefined` when `obj` is not an object.
    pub fn get(self, obj: Val, key: &str) -> Result<Val> {
        let t = self.type_of(obj)?;
        if t != sys::ValueType::napi_object && t != sys::ValueType::napi_function {
            return self.undefined();
        }
        let key = self.string(key)?;
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_property(self.0, obj, key, &mut v) })?;
        Ok(v)
    }

    /// `arr[i]`.
    pub fn element(self, arr: Val, i: u32) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_element(self.0, arr, i, &mut v) })?;
        Ok(v)
    }

    /// Converts each item of the array `arr` with `f(index, item)`, in order, stopping at the
    /// first error. An array longer than [`MAX_ITEMS`] (only a sparse one can be) is a
    /// `RangeError`. The handles of the items are released as it goes, so converting a long array
    /// costs only its converted form.
    pub fn map_items<T>(
        self,
        arr: Val,
        at: At<'_>,
        mut f: impl FnMut(u32, Val) -> Result<T>,
    ) -> Result<Vec<T>> {
        let len = self.array_len(arr)?;
        if len > MAX_ITEMS {
            return Err(self.range_error(
                at,
                &format!("has {len} items; an array may have at most {MAX_ITEMS}"),
            ));
        }
        let mut out = Vec::with_capacity(len.min(SCOPE_ITEMS) as usize);
        let mut start = 0;
        while start < len {
            let end = len.min(start + SCOPE_ITEMS);
            let mut scope = ptr::null_mut();
            self.check(unsafe { sys::napi_open_handle_scope(self.0, &mut scope) })?;
            let chunk: Result<()> = (start..end).try_for_each(|i| {
                out.push(f(i, self.element(arr, i)?)?);
                Ok(())
            });
            unsafe { sys::napi_close_handle_scope(self.0, scope) };
            chunk?;
            start = end;
        }
        Ok(out)
    }

    /// The length of the array `arr`.
    pub fn array_len(self, arr: Val) -> Result<u32> {
        let mut len = 0;
        self.check(unsafe { sys::napi_get_array_length(self.0, arr, &mut len) })?;
        Ok(len)
    }

    /// The object's enumerable string keys (inherited ones included), in property order.
    pub fn keys(self, obj: Val, at: At<'_>) -> Result<Vec<String>> {
        let mut names = ptr::null_mut();
        self.check(unsafe { sys::napi_get_property_names(self.0, obj, &mut names) })?;
        self.map_items(names, at, |_, k| self.read_string(k))
    }

    /// The object's own enumerable string keys (`Object.keys`), in property order.
    pub fn own_keys(self, obj: Val, at: At<'_>) -> Result<Vec<String>> {
        let mut names = ptr::null_mut();
        self.check(unsafe {
            sys::napi_get_all_property_names(
                self.0,
                obj,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        })?;
        self.map_items(names, at, |_, k| self.read_string(k))
    }

    /// A list of strings.
    pub fn strings(self, v: Val, at: At<'_>) -> Result<Vec<String>> {
        if !self.is_array(v)? {
            return Err(self.type_error(at, "an array of strings", v));
        }
        self.map_items(v, at, |i, item| {
            self.str(
                item,
                At {
                    func: at.func,
                    arg: &format!("{}[{i}]", at.arg),
                },
            )
        })
    }

    /// The elements of a typed array of the given kind, read in place. The slice must not outlive
    /// the current call (no JS may run while it is in use).
    pub fn typed_slice<'a, T>(
        self,
        v: Val,
        kind: sys::napi_typedarray_type,
    ) -> Result<Option<&'a [T]>> {
        let mut is = false;
        self.check(unsafe { sys::napi_is_typedarray(self.0, v, &mut is) })?;
        if !is {
            return Ok(None);
        }
        let (mut k, mut len, mut data) = (0, 0usize, ptr::null_mut::<c_void>());
        self.check(unsafe {
            sys::napi_get_typedarray_info(
                self.0,
                v,
                &mut k,
                &mut len,
                &mut data,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        if k != kind {
            return Ok(None);
        }
        if len == 0 || data.is_null() {
            return Ok(Some(&[]));
        }
        // SAFETY: Node-API reports `len` elements of this kind at `data`; the caller keeps the
        // slice within the call, while the array cannot be collected or detached.
        Ok(Some(unsafe {
            std::slice::from_raw_parts(data as *const T, len)
        }))
    }

    /// The numbers of a numeric typed array (`Float64Array`, `Int32Array`, ...), if `v` is one.
    pub fn typed_numbers(self, v: Val) -> Result<Option<Vec<f64>>> {
        let mut is = false;
        self.check(unsafe { sys::napi_is_typedarray(self.0, v, &mut is) })?;
        if !is {
            return Ok(None);
        }
        let (mut kind, mut len, mut data) = (0, 0usize, ptr::null_mut::<c_void>());
        self.check(unsafe {
            sys::napi_get_typedarray_info(
                self.0,
                v,
                &mut kind,
                &mut len,
                &mut data,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        macro_rules! read {
            ($t:ty) => {{
                if len == 0 || data.is_null() {
                    Vec::new()
                } else {
                    // SAFETY: Node-API reports `len` elements of this type at `data`.
                    unsafe { std::slice::from_raw_parts(data as *const $t, len) }
                        .iter()
                        .map(|&x| x as f64)
                        .collect()
                }
            }};
        }
        use sys::TypedarrayType as T;
        Ok(Some(match kind {
            T::int8_array => read!(i8),
            T::uint8_array | T::uint8_clamped_array => read!(u8),
            T::int16_array => read!(i16),
            T::uint16_array => read!(u16),
            T::int32_array => read!(i32),
            T::uint32_array => read!(u32),
            T::float32_array => read!(f32),
            T::float64_array => read!(f64),
            _ => return Ok(None),
        }))
    }

    // ---- reading arguments ------------------------------------------------------------------

    /// A required string.
    pub fn str(self, v: Val, at: At<'_>) -> Result<String> {
        if self.type_of(v)? == sys::ValueType::napi_string {
            self.read_string(v)
        } else {
            Err(self.type_error(at, "a string", v))
        }
    }

    /// A file path: a string without NUL characters (no file name can hold one, so a NUL is
    /// `ERR_INVALID_ARG` rather than an error of the file system or SQLite).
    pub fn path(self, v: Val, at: At<'_>) -> Result<String> {
        let s = self.str(v, at)?;
        if s.contains('\0') {
            return Err(self.core(stowage_core::Error::InvalidArg(format!(
                "{}: {} must not contain NUL characters",
                at.func, at.arg
            ))));
        }
        Ok(s)
    }

    /// A string, or `None` for `null`/`undefined`.
    pub fn opt_str(self, v: Val, at: At<'_>) -> Result<Option<String>> {
        match self.type_of(v)? {
            sys::ValueType::napi_string => self.read_string(v).map(Some),
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => Err(self.type_error(at, "a string or null", v)),
        }
    }

    /// A boolean, or `None` for `null`/`undefined`.
    pub fn opt_bool(self, v: Val, at: At<'_>) -> Result<Option<bool>> {
        match self.type_of(v)? {
            sys::ValueType::napi_boolean => self.truthy(v).map(Some),
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => Err(self.type_error(at, "a boolean", v)),
        }
    }

    /// `v` when it is a number (one Node-API call, no error otherwise).
    pub fn number_value(self, v: Val) -> Option<f64> {
        let mut x = 0.0;
        (unsafe { sys::napi_get_value_double(self.0, v, &mut x) } == sys::Status::napi_ok)
            .then_some(x)
    }

    /// A number (a BigInt within ±(2^53−1) is accepted), or `None` for `null`/`undefined`.
    pub fn opt_num(self, v: Val, at: At<'_>) -> Result<Option<f64>> {
        if let Some(x) = self.number_value(v) {
            return Ok(Some(x));
        }
        match self.type_of(v)? {
            sys::ValueType::napi_number => self.read_f64(v).map(Some),
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            sys::ValueType::napi_bigint => {
                let (mut x, mut lossless) = (0i64, false);
                self.check(unsafe {
                    sys::napi_get_value_bigint_int64(self.0, v, &mut x, &mut lossless)
                })?;
                if lossless && (-MAX_SAFE..=MAX_SAFE).contains(&x) {
                    Ok(Some(x as f64))
                } else {
                    Err(self.range_error(
                        at,
                        "is a BigInt beyond ±(2^53−1), which a column value cannot hold exactly",
                    ))
                }
            }
            _ => Err(self.type_error(at, "a number or null", v)),
        }
    }

    /// An integer that a JS number holds exactly, or `None` for `null`/`undefined`.
    pub fn opt_int(self, v: Val, at: At<'_>) -> Result<Option<i64>> {
        match self.opt_num(v, at)? {
            None => Ok(None),
            Some(x) if x.fract() == 0.0 && x.abs() <= MAX_SAFE as f64 => Ok(Some(x as i64)),
            Some(_) => Err(self.range_error(at, "must be an integer within ±(2^53−1)")),
        }
    }

    /// A number when `v` is one, otherwise `None` without coercion (OnTheFly's
    /// `Number.isFinite(x) ? x : null` for log steps).
    pub fn number_if_number(self, v: Val) -> Result<Option<f64>> {
        Ok(if self.type_of(v)? == sys::ValueType::napi_number {
            Some(self.read_f64(v)?)
        } else {
            None
        })
    }

    /// A statement parameter: `null`/`undefined`, a boolean (0 or 1), a number (INTEGER when
    /// integral and exact, REAL otherwise), a BigInt within 64 bits, or a string.
    pub fn sql_value(self, v: Val, at: At<'_>) -> Result<Value> {
        use sys::ValueType as T;
        match self.type_of(v)? {
            T::napi_undefined | T::napi_null => Ok(Value::Null),
            T::napi_boolean => Ok(Value::Integer(i64::from(self.truthy(v)?))),
            T::napi_number => {
                let x = self.read_f64(v)?;
                Ok(if x.fract() == 0.0 && x.abs() <= MAX_SAFE as f64 {
                    Value::Integer(x as i64)
                } else {
                    Value::Real(x)
                })
            }
            T::napi_bigint => {
                let (mut x, mut lossless) = (0i64, false);
                self.check(unsafe {
                    sys::napi_get_value_bigint_int64(self.0, v, &mut x, &mut lossless)
                })?;
                if lossless {
                    Ok(Value::Integer(x))
                } else {
                    Err(self.range_error(at, "is a BigInt beyond 64 bits"))
                }
            }
            T::napi_string => Ok(Value::Text(self.read_string(v)?)),
            _ => Err(self.type_error(at, "null, a boolean, a number, a BigInt or a string", v)),
        }
    }

    /// An object (not `null`, not an array).
    pub fn object(self, v: Val, at: At<'_>) -> Result<Val> {
        if self.type_of(v)? == sys::ValueType::napi_object && !self.is_array(v)? {
            Ok(v)
        } else {
            Err(self.type_error(at, "an object", v))
        }
    }

    // ---- building results -------------------------------------------------------------------

    pub fn undefined(self) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_undefined(self.0, &mut v) })?;
        Ok(v)
    }

    pub fn null(self) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_null(self.0, &mut v) })?;
        Ok(v)
    }

    pub fn boolean(self, b: bool) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_get_boolean(self.0, b, &mut v) })?;
        Ok(v)
    }

    pub fn number(self, x: f64) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_create_double(self.0, x, &mut v) })?;
        Ok(v)
    }

    pub fn string(self, s: &str) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe {
            sys::napi_create_string_utf8(self.0, s.as_ptr().cast(), s.len() as isize, &mut v)
        })?;
        Ok(v)
    }

    /// A JS string of `s`, copied byte for byte when it is ASCII (no UTF-8 decoding: what makes
    /// a large JSON result cheap to hand over), else decoded as [`Js::string`] does.
    pub fn ascii_or_utf8(self, s: &str) -> Result<Val> {
        if !s.is_ascii() {
            return self.string(s);
        }
        let mut v = ptr::null_mut();
        self.check(unsafe {
            sys::napi_create_string_latin1(self.0, s.as_ptr().cast(), s.len() as isize, &mut v)
        })?;
        Ok(v)
    }

    pub fn object_new(self) -> Result<Val> {
        let mut v = ptr::null_mut();
        self.check(unsafe { sys::napi_create_object(self.0, &mut v) })?;
        Ok(v)
    }

    pub fn set(self, obj: Val, key: Val, value: Val) -> Result<()> {
        self.check(unsafe { sys::napi_set_property(self.0, obj, key, value) })
    }

    pub fn set_named(self, obj: Val, key: &str, value: Val) -> Result<()> {
        self.set(obj, self.string(key)?, value)
    }

    /// Defines `obj[key] = value` as an enumerable property that cannot be reassigned or
    /// deleted.
    pub fn define_readonly(self, obj: Val, key: &str, value: Val) -> Result<()> {
        let prop = sys::napi_property_descriptor {
            utf8name: ptr::null(),
            name: self.string(key)?,
            method: None,
            getter: None,
            setter: None,
            value,
            attributes: sys::PropertyAttributes::enumerable,
            data: ptr::null_mut(),
        };
        self.check(unsafe { sys::napi_define_properties(self.0, obj, 1, &prop) })
    }

    /// An array of the given values.
    pub fn array(self, items: impl ExactSizeIterator<Item = Result<Val>>) -> Result<Val> {
        let mut arr = ptr::null_mut();
        self.check(unsafe { sys::napi_create_array_with_length(self.0, items.len(), &mut arr) })?;
        for (i, item) in items.enumerate() {
            self.check(unsafe { sys::napi_set_element(self.0, arr, i as u32, item?) })?;
        }
        Ok(arr)
    }

    /// A SQLite value as better-sqlite3 returns it (integers beyond ±(2^53−1) as BigInt, BLOBs
    /// as Buffers).
    pub fn value(self, v: &Value) -> Result<Val> {
        match v {
            Value::Null => self.null(),
            Value::Integer(i) if (-MAX_SAFE..=MAX_SAFE).contains(i) => self.number(*i as f64),
            Value::Integer(i) => {
                let mut out = ptr::null_mut();
                self.check(unsafe { sys::napi_create_bigint_int64(self.0, *i, &mut out) })?;
                Ok(out)
            }
            Value::Real(f) => self.number(*f),
            Value::Text(s) => self.string(s),
            Value::Blob(b) => {
                let mut out = ptr::null_mut();
                let mut data = ptr::null_mut();
                self.check(unsafe {
                    sys::napi_create_buffer_copy(
                        self.0,
                        b.len(),
                        b.as_ptr().cast(),
                        &mut data,
                        &mut out,
                    )
                })?;
                Ok(out)
            }
        }
    }

    /// `f(...args)` with `this` undefined. When `f` throws, the exception stays pending and the
    /// result is an error.
    pub fn call(self, f: Val, args: &[Val]) -> Result<Val> {
        let recv = self.undefined()?;
        let mut out = ptr::null_mut();
        let status = unsafe {
            sys::napi_call_function(self.0, recv, f, args.len(), args.as_ptr(), &mut out)
        };
        if status == sys::Status::napi_ok {
            Ok(out)
        } else {
            Err(Error::new(Status::PendingException, "the callback threw"))
        }
    }

    /// Throws `value` unchanged (what a caller's callback threw, passed on).
    pub fn rethrow(self, value: Val) -> Error {
        unsafe { sys::napi_throw(self.0, value) };
        Error::new(Status::PendingException, "rethrown")
    }

    /// `JSON[name]`, the global `JSON` object's function `name`.
    fn json_function(self, name: &str) -> Result<(Val, Val)> {
        let mut global = ptr::null_mut();
        self.check(unsafe { sys::napi_get_global(self.0, &mut global) })?;
        let json = self.get(global, "JSON")?;
        Ok((json, self.get(json, name)?))
    }

    /// The JS value of the JSON text `text` (one `JSON.parse`): how a JSON column, or a whole
    /// result serialised in Rust, reaches JS.
    pub fn json(self, text: &str) -> Result<Val> {
        let (json, parse) = self.json_function("parse")?;
        let arg = self.ascii_or_utf8(text)?;
        let mut out = ptr::null_mut();
        self.check(unsafe { sys::napi_call_function(self.0, json, parse, 1, &arg, &mut out) })?;
        Ok(out)
    }

    /// `JSON.stringify(v)`: the text a JSON column stores for a JS value. A value without a JSON
    /// form (`undefined`, a function, a symbol) is a `TypeError` naming the argument; what
    /// `JSON.stringify` throws (a cycle, a BigInt, a throwing `toJSON`) becomes a `TypeError`
    /// with that as `cause`.
    ///
    /// An array longer than [`MAX_ITEMS`] anywhere in the value is refused by a replacer before
    /// `JSON.stringify` serialises it: Node 20's V8 aborts the process on a sparse array of more
    /// than 2^27 items (its `FixedArray` limit) instead of throwing.
    pub fn json_text(self, v: Val, at: At<'_>) -> Result<String> {
        let (json, stringify) = self.json_function("stringify")?;
        let mut replacer = ptr::null_mut();
        self.check(unsafe {
            sys::napi_create_function(
                self.0,
                c"refuseHugeArrays".as_ptr(),
                "refuseHugeArrays".len() as isize,
                Some(refuse_huge_arrays),
                ptr::null_mut(),
                &mut replacer,
            )
        })?;
        let args = [v, replacer];
        let mut out = ptr::null_mut();
        let status =
            unsafe { sys::napi_call_function(self.0, json, stringify, 2, args.as_ptr(), &mut out) };
        if status != sys::Status::napi_ok {
            return Err(self.type_error_caused(&format!(
                "{}: {} must be a JSON value; JSON.stringify of it threw",
                at.func, at.arg
            )));
        }
        if self.type_of(out)? != sys::ValueType::napi_string {
            return Err(self.type_error(at, "a JSON value", v));
        }
        self.read_string(out)
    }

    /// One plain object per row, keys in column order (better-sqlite3's `.all()`).
    pub fn rows(self, rows: &Rows) -> Result<Val> {
        crate::rows::objects(self, rows, None)
    }
}

/// The replacer of [`Js::json_text`]: returns the value unchanged, or throws a RangeError for an
/// array longer than [`MAX_ITEMS`].
unsafe extern "C" fn refuse_huge_arrays(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let mut argc = 2;
    let mut argv = [ptr::null_mut(); 2];
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    let value = argv[1];
    if status != sys::Status::napi_ok || value.is_null() {
        return value;
    }
    let mut is_array = false;
    let mut len = 0;
    let huge = unsafe {
        sys::napi_is_array(env, value, &mut is_array) == sys::Status::napi_ok
            && is_array
            && sys::napi_get_array_length(env, value, &mut len) == sys::Status::napi_ok
            && len > MAX_ITEMS
    };
    if huge {
        unsafe {
            sys::napi_throw_range_error(
                env,
                c"ERR_OUT_OF_RANGE".as_ptr(),
                c"an array in a JSON value may have at most 2^27 items".as_ptr(),
            )
        };
        return ptr::null_mut();
    }
    value
}

/// A value already built in the current call, handed back to napi-rs as the return value.
pub struct Raw(pub Val);

impl napi::bindgen_prelude::ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}
