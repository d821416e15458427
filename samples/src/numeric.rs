//! `integer` and `number` generation within `minimum`/`maximum`/`exclusiveMinimum`/
//! `exclusiveMaximum` (numeric draft-06+ form and boolean draft-4 form) and integral `multipleOf`.
//!
//! Values favour the interesting: small numbers, numbers right at or next to the bounds (including
//! ±9007199254740991), floats with all 17 significant digits, tiny and huge exponents, and
//! integer-valued `number`s written as JSON integers.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Number, Value};

use crate::generator::{child, invalid, unsat, Generator};
use crate::SampleError;

/// 2^53 - 1, the largest integer JavaScript numbers hold exactly.
const SAFE: i128 = 9_007_199_254_740_991;

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn read(value: &Value) -> Option<Self> {
        if let Some(i) = value.as_i64() {
            Some(Self::Int(i.into()))
        } else if let Some(u) = value.as_u64() {
            Some(Self::Int(u.into()))
        } else {
            value.as_f64().filter(|f| f.is_finite()).map(Self::Float)
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    value: Num,
    exclusive: bool,
}

/// Lower and upper bounds of a schema. Strict: mistyped keywords are errors.
fn bounds(map: &Map<String, Value>, ptr: &str) -> Result<(Vec<Bound>, Vec<Bound>), SampleError> {
    let side = |inclusive: &str, exclusive: &str| -> Result<Vec<Bound>, SampleError> {
        let mut out = Vec::new();
        let draft4_exclusive = match map.get(exclusive) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                let value = Num::read(v).ok_or_else(|| {
                    invalid(
                        &child(ptr, exclusive),
                        format!("`{exclusive}` must be a number"),
                    )
                })?;
                out.push(Bound {
                    value,
                    exclusive: true,
                });
                false
            }
        };
        if let Some(v) = map.get(inclusive) {
            let value = Num::read(v).ok_or_else(|| {
                invalid(
                    &child(ptr, inclusive),
                    format!("`{inclusive}` must be a number"),
                )
            })?;
            out.push(Bound {
                value,
                exclusive: draft4_exclusive,
            });
        }
        Ok(out)
    };
    Ok((
        side("minimum", "exclusiveMinimum")?,
        side("maximum", "exclusiveMaximum")?,
    ))
}

/// An integral, positive `multipleOf`, if any.
fn multiple_of(map: &Map<String, Value>, ptr: &str) -> Result<Option<i128>, SampleError> {
    let Some(value) = map.get("multipleOf") else {
        return Ok(None);
    };
    let bad = || {
        invalid(
            &child(ptr, "multipleOf"),
            "`multipleOf` must be a number > 0",
        )
    };
    match Num::read(value).ok_or_else(bad)? {
        Num::Int(m) if m > 0 => Ok(Some(m)),
        Num::Float(f) if f > 0.0 && f.fract() == 0.0 && f <= SAFE as f64 => Ok(Some(f as i128)),
        Num::Float(f) if f > 0.0 => Err(SampleError::Unsupported {
            pointer: ptr.to_string(),
            keyword: "multipleOf".into(),
        }),
        _ => Err(bad()),
    }
}

fn int_lower(bound: &Bound) -> i128 {
    match (bound.value, bound.exclusive) {
        (Num::Int(n), false) => n,
        (Num::Int(n), true) => n.saturating_add(1),
        (Num::Float(f), false) => f.ceil() as i128,
        (Num::Float(f), true) => (f.floor() as i128).saturating_add(1),
    }
}

fn int_upper(bound: &Bound) -> i128 {
    match (bound.value, bound.exclusive) {
        (Num::Int(n), false) => n,
        (Num::Int(n), true) => n.saturating_sub(1),
        (Num::Float(f), false) => f.floor() as i128,
        (Num::Float(f), true) => (f.ceil() as i128).saturating_sub(1),
    }
}

/// Picks an integer in `lo..=hi` (`lo <= hi`): small values, values at the bounds the schema
/// states, or anywhere in the JavaScript-safe range.
fn pick_int(rng: &mut ChaCha8Rng, lo: i128, hi: i128, has_lo: bool, has_hi: bool) -> i128 {
    let roll = rng.gen_range(0..100);
    let span = (hi - lo).min(2);
    if roll < 10 && has_lo {
        return lo + rng.gen_range(0..=span);
    }
    if roll < 20 && has_hi {
        return hi - rng.gen_range(0..=span);
    }
    if roll < 85 {
        let (a, b) = (lo.max(-100), hi.min(1000));
        if a <= b {
            return rng.gen_range(a..=b);
        }
    }
    let (a, b) = (lo.max(-SAFE), hi.min(SAFE));
    if a <= b {
        rng.gen_range(a..=b)
    } else {
        rng.gen_range(lo..=hi)
    }
}

fn gen_int(
    rng: &mut ChaCha8Rng,
    lower: &[Bound],
    upper: &[Bound],
    multiple: Option<i128>,
    ptr: &str,
) -> Result<Value, SampleError> {
    let lo = lower
        .iter()
        .map(int_lower)
        .max()
        .unwrap_or(i64::MIN.into())
        .max(i64::MIN.into());
    let hi = upper
        .iter()
        .map(int_upper)
        .min()
        .unwrap_or(i64::MAX.into())
        .min(i64::MAX.into());
    let (has_lo, has_hi) = (!lower.is_empty(), !upper.is_empty());
    let value = match multiple {
        None => {
            if lo > hi {
                return Err(unsat(
                    ptr,
                    format!("no integer lies between the bounds ({lo} > {hi})"),
                ));
            }
            pick_int(rng, lo, hi, has_lo, has_hi)
        }
        Some(m) => {
            let k_lo = lo.div_euclid(m) + i128::from(lo.rem_euclid(m) != 0);
            let k_hi = hi.div_euclid(m);
            if k_lo > k_hi {
                return Err(unsat(
                    ptr,
                    format!("no multiple of {m} lies between the bounds"),
                ));
            }
            pick_int(rng, k_lo, k_hi, has_lo, has_hi) * m
        }
    };
    // `lo..=hi` lies within the i64 range, so this conversion cannot fail.
    Ok(i64::try_from(value).map_or(Value::Null, Value::from))
}

/// An `integer` instance of the schema object `map`.
pub(crate) fn integer(
    generator: &mut Generator<'_>,
    map: &Map<String, Value>,
    ptr: &str,
) -> Result<Value, SampleError> {
    let (lower, upper) = bounds(map, ptr)?;
    let multiple = multiple_of(map, ptr)?;
    gen_int(&mut generator.rng, &lower, &upper, multiple, ptr)
}

/// The smallest `f64` greater than `x` (`f64::next_up` needs Rust 1.86).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// The tightest bound on one side: the largest lower (smallest upper) value, exclusive winning
/// ties. `lower` says which side.
fn tightest(bounds: &[Bound], lower: bool) -> Option<(f64, bool)> {
    let mut best: Option<(f64, bool)> = None;
    for bound in bounds {
        let candidate = (bound.value.as_f64(), bound.exclusive);
        best = Some(match best {
            None => candidate,
            Some(current) => {
                let tighter = if lower {
                    candidate.0 > current.0
                } else {
                    candidate.0 < current.0
                };
                if tighter || (candidate.0 == current.0 && candidate.1) {
                    candidate
                } else {
                    current
                }
            }
        });
    }
    best
}

fn float_value(x: f64) -> Option<Value> {
    // Avoid `-0.0`: it round-trips, but equals `0` and only adds noise.
    let x = if x == 0.0 { 0.0 } else { x };
    Number::from_f64(x).map(Value::Number)
}

/// A float with many significant digits (e.g. `39.383789990097284`) of magnitude up to 10^4.
pub(crate) fn free_float(rng: &mut ChaCha8Rng) -> Value {
    let magnitude = 10f64.powi(rng.gen_range(0..=4));
    let sign = if rng.gen_bool(0.2) { -1.0 } else { 1.0 };
    float_value(sign * rng.gen::<f64>() * magnitude).unwrap_or(Value::Null)
}

/// A `number` instance of the schema object `map`.
pub(crate) fn number(
    generator: &mut Generator<'_>,
    map: &Map<String, Value>,
    ptr: &str,
) -> Result<Value, SampleError> {
    let (lower, upper) = bounds(map, ptr)?;
    if let Some(multiple) = multiple_of(map, ptr)? {
        return gen_int(&mut generator.rng, &lower, &upper, Some(multiple), ptr);
    }
    let lo = tightest(&lower, true);
    let hi = tightest(&upper, false);
    let in_bounds = |x: f64| {
        x.is_finite()
            && lo.is_none_or(|(l, excl)| if excl { x > l } else { x >= l })
            && hi.is_none_or(|(h, excl)| if excl { x < h } else { x <= h })
    };
    if let (Some((l, le)), Some((h, he))) = (lo, hi) {
        if l > h || (l == h && (le || he)) {
            return Err(unsat(ptr, format!("no number lies between {l} and {h}")));
        }
    }
    let rng = &mut generator.rng;
    for _ in 0..8 {
        let roll = rng.gen_range(0..100);
        let candidate: Option<Value> = if roll < 20 {
            // Integer-valued, written as a JSON integer: `f64` fields must accept `42`.
            let ilo = lower
                .iter()
                .map(int_lower)
                .max()
                .unwrap_or(-SAFE)
                .max(-SAFE);
            let ihi = upper.iter().map(int_upper).min().unwrap_or(SAFE).min(SAFE);
            if ilo <= ihi {
                let k = pick_int(rng, ilo, ihi, !lower.is_empty(), !upper.is_empty());
                i64::try_from(k)
                    .ok()
                    .filter(|k| in_bounds(*k as f64))
                    .map(Value::from)
            } else {
                None
            }
        } else if roll < 35 {
            // At or right next to a bound.
            let mut near = Vec::new();
            if let Some((l, _)) = lo {
                near.extend([l, next_up(l), next_up(next_up(l))]);
            }
            if let Some((h, _)) = hi {
                near.extend([h, next_down(h), next_down(next_down(h))]);
            }
            if near.is_empty() {
                None
            } else {
                float_value(near[rng.gen_range(0..near.len())])
            }
        } else if roll < 45 {
            // Tiny and huge exponents exercise float parsing and printing.
            let mantissa = 1.0 + 9.0 * rng.gen::<f64>();
            let sign = if rng.gen_bool(0.5) { -1.0 } else { 1.0 };
            float_value(sign * mantissa * 10f64.powi(rng.gen_range(-9..=21)))
        } else {
            let u: f64 = rng.gen();
            let magnitude = 10f64.powi(rng.gen_range(0..=6));
            let x = match (lo, hi) {
                (Some((l, _)), Some((h, _))) if (h - l).is_finite() => l + u * (h - l),
                (Some((l, _)), _) => l + u * magnitude,
                (None, Some((h, _))) => h - u * magnitude,
                (None, None) => {
                    let sign = if rng.gen_bool(0.25) { -1.0 } else { 1.0 };
                    sign * u * magnitude
                }
            };
            float_value(x)
        };
        if let Some(value) = candidate {
            if value.as_f64().is_some_and(in_bounds) {
                return Ok(value);
            }
        }
    }
    let mut fallbacks = vec![0.0];
    if let Some((l, _)) = lo {
        fallbacks.extend([l, next_up(l)]);
    }
    if let Some((h, _)) = hi {
        fallbacks.extend([h, next_down(h)]);
    }
    if let (Some((l, _)), Some((h, _))) = (lo, hi) {
        fallbacks.push(l / 2.0 + h / 2.0);
    }
    fallbacks
        .into_iter()
        .find(|x| in_bounds(*x))
        .and_then(float_value)
        .ok_or_else(|| unsat(ptr, "no number satisfies the bounds"))
}

/// Whether a number satisfies the bounds and `multipleOf` of `map` (lenient: unreadable keywords
/// count as satisfied).
pub(crate) fn check_bounds(map: &Map<String, Value>, value: &Value, skip: &[&str]) -> bool {
    let Some(x) = value.as_f64() else {
        return true;
    };
    let get = |key: &str| {
        if skip.contains(&key) {
            None
        } else {
            map.get(key)
        }
    };
    let draft4 = |key: &str| get(key) == Some(&Value::Bool(true));
    if let Some(min) = get("minimum").and_then(Value::as_f64) {
        if x < min || (draft4("exclusiveMinimum") && x == min) {
            return false;
        }
    }
    if let Some(max) = get("maximum").and_then(Value::as_f64) {
        if x > max || (draft4("exclusiveMaximum") && x == max) {
            return false;
        }
    }
    if get("exclusiveMinimum")
        .and_then(Value::as_f64)
        .is_some_and(|min| x <= min)
    {
        return false;
    }
    if get("exclusiveMaximum")
        .and_then(Value::as_f64)
        .is_some_and(|max| x >= max)
    {
        return false;
    }
    if let Some(m) = get("multipleOf")
        .and_then(Value::as_f64)
        .filter(|m| *m > 0.0)
    {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_up_and_down_step_one_ulp() {
        assert_eq!(next_up(0.0), f64::from_bits(1));
        assert_eq!(next_up(1.0), 1.0 + f64::EPSILON);
        assert_eq!(next_down(1.0 + f64::EPSILON), 1.0);
        assert!(next_up(-1.0) > -1.0);
        assert!(next_down(0.0) < 0.0);
    }

    #[test]
    fn integer_bounds_handle_both_forms() {
        let bound = |value, exclusive| Bound { value, exclusive };
        assert_eq!(int_lower(&bound(Num::Int(0), true)), 1);
        assert_eq!(int_lower(&bound(Num::Float(0.5), false)), 1);
        assert_eq!(int_lower(&bound(Num::Float(1.0), true)), 2);
        assert_eq!(int_upper(&bound(Num::Float(3.5), false)), 3);
        assert_eq!(int_upper(&bound(Num::Float(3.0), true)), 2);
        let map = serde_json::json!({"minimum": 0, "exclusiveMinimum": true, "maximum": 9})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let (lower, upper) = bounds(&map, "").unwrap();
        assert_eq!(lower.iter().map(int_lower).max(), Some(1));
        assert_eq!(upper.iter().map(int_upper).min(), Some(9));
    }
}
