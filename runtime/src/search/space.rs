//! The search space: parameters, their types and distributions, values, and the numeric encoding samplers share.

use std::fmt;

/// The declared type of a searched parameter (`int`, `float`, `string`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Float,
    String,
}

/// Where a parameter's values come from. Bounds are inclusive.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Uniform {
        low: f64,
        high: f64,
    },
    LogUniform {
        low: f64,
        high: f64,
    },
    Normal {
        mu: f64,
        sigma: f64,
    },
    /// `ln x` is normal with mean `mu` and deviation `sigma`.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// The grid `low, low + q, low + 2q, …` up to `high`.
    QUniform {
        low: f64,
        high: f64,
        q: f64,
    },
    RandInt {
        low: i64,
        high: i64,
    },
    Choice(Vec<Value>),
}

impl Distribution {
    /// Which of the plan's distributions this is (its name in messages).
    pub fn kind(&self) -> kfl_plan::Distribution {
        use kfl_plan::Distribution as Plan;
        match self {
            Distribution::Uniform { .. } => Plan::Uniform,
            Distribution::LogUniform { .. } => Plan::LogUniform,
            Distribution::Normal { .. } => Plan::Normal,
            Distribution::LogNormal { .. } => Plan::LogNormal,
            Distribution::QUniform { .. } => Plan::QUniform,
            Distribution::RandInt { .. } => Plan::RandInt,
            Distribution::Choice(_) => Plan::Choice,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub distribution: Distribution,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Space {
    pub params: Vec<Param>,
}

/// One parameter value of a trial.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// The value as it is written on a command line (`0.001`, `64`, `adam`).
    pub fn text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => None,
        }
    }

    /// Equality for matching a trial's values against a space; `1` and `1.0` are the same number.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Str(_), _) | (_, Value::Str(_)) => false,
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// A search space the samplers cannot work in. Nothing was proposed.
#[derive(Debug, Clone, PartialEq)]
pub enum SpaceError {
    Empty,
    SearchedTwice { name: String },
    Param { name: String, problem: ParamProblem },
}

/// What is wrong with one parameter's distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamProblem {
    NotFinite {
        field: &'static str,
        value: f64,
    },
    /// The distribution cannot produce values of the parameter's type.
    WrongType {
        distribution: &'static str,
        ty: ParamType,
    },
    /// The arguments break the distribution's rule (`needs`), e.g. `low < high`.
    Arguments {
        distribution: &'static str,
        needs: &'static str,
        got: String,
    },
    IntStepNotWhole,
    TooManySteps {
        low: f64,
        high: f64,
        q: f64,
    },
    EmptyChoice,
    ChoiceWrongType {
        value: String,
        ty: ParamType,
    },
    ChoiceTwice {
        value: String,
    },
}

fn type_name(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Int => "int",
        ParamType::Float => "float",
        ParamType::String => "string",
    }
}

impl fmt::Display for SpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaceError::Empty => f.write_str("the search space has no parameters"),
            SpaceError::SearchedTwice { name } => write!(f, "parameter `{name}` is searched twice"),
            SpaceError::Param { name, problem } => write!(f, "parameter `{name}`: {problem}"),
        }
    }
}

impl fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamProblem::NotFinite { field, value } => write!(f, "{field} must be a finite number, not {value}"),
            ParamProblem::WrongType { distribution, ty } => {
                write!(f, "`{distribution}` does not fit a {} parameter", type_name(*ty))
            }
            ParamProblem::Arguments { distribution, needs, got } => {
                write!(f, "{distribution} needs {needs}, got {got}")
            }
            ParamProblem::IntStepNotWhole => f.write_str("quniform of an int parameter needs whole low, high and q"),
            ParamProblem::TooManySteps { low, high, q } => {
                write!(f, "quniform({low}, {high}, {q}) has more than a billion steps")
            }
            ParamProblem::EmptyChoice => f.write_str("choice needs at least one value"),
            ParamProblem::ChoiceWrongType { value, ty } => {
                write!(f, "choice value `{value}` does not fit a {} parameter", type_name(*ty))
            }
            ParamProblem::ChoiceTwice { value } => write!(f, "choice value `{value}` is listed twice"),
        }
    }
}

impl std::error::Error for SpaceError {}

impl Space {
    /// Checks what the samplers rely on; the message names the parameter and what is wrong.
    pub fn validate(&self) -> Result<(), SpaceError> {
        if self.params.is_empty() {
            return Err(SpaceError::Empty);
        }
        for (i, p) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return Err(SpaceError::SearchedTwice { name: p.name.clone() });
            }
            p.validate().map_err(|problem| SpaceError::Param { name: p.name.clone(), problem })?;
        }
        Ok(())
    }

    /// Checks that `values` is a point of this space (same length, each value fits its parameter).
    pub fn contains(&self, values: &[Value]) -> bool {
        values.len() == self.params.len() && self.params.iter().zip(values).all(|(p, v)| p.dim().encode(v).is_some())
    }
}

fn finite(field: &'static str, value: f64) -> Result<(), ParamProblem> {
    if value.is_finite() { Ok(()) } else { Err(ParamProblem::NotFinite { field, value }) }
}

impl Param {
    fn validate(&self) -> Result<(), ParamProblem> {
        use Distribution as D;
        let kind = self.distribution.kind().name();
        let type_fits = match &self.distribution {
            D::Uniform { .. } | D::LogUniform { .. } | D::Normal { .. } | D::LogNormal { .. } => {
                self.ty == ParamType::Float
            }
            D::QUniform { .. } => self.ty != ParamType::String,
            D::RandInt { .. } => self.ty == ParamType::Int,
            D::Choice(_) => true,
        };
        if !type_fits {
            return Err(ParamProblem::WrongType { distribution: kind, ty: self.ty });
        }
        match &self.distribution {
            D::Uniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if low >= high {
                    return Err(ParamProblem::Arguments {
                        distribution: kind,
                        needs: "low < high",
                        got: format!("{low} and {high}"),
                    });
                }
            }
            D::LogUniform { low, high } => {
                finite("low", *low)?;
                finite("high", *high)?;
                if *low <= 0.0 || low >= high {
                    return Err(ParamProblem::Arguments {
                        distribution: kind,
                        needs: "0 < low < high",
                        got: format!("{low} and {high}"),
                    });
                }
            }
            D::Normal { mu, sigma } | D::LogNormal { mu, sigma } => {
                finite("mu", *mu)?;
                finite("sigma", *sigma)?;
                if *sigma <= 0.0 {
                    return Err(ParamProblem::Arguments {
                        distribution: kind,
                        needs: "sigma > 0",
                        got: sigma.to_string(),
                    });
                }
            }
            D::QUniform { low, high, q } => {
                finite("low", *low)?;
                finite("high", *high)?;
                finite("q", *q)?;
                if *q <= 0.0 || low > high {
                    return Err(ParamProblem::Arguments {
                        distribution: kind,
                        needs: "q > 0 and low <= high",
                        got: format!("{low}, {high}, {q}"),
                    });
                }
                if self.ty == ParamType::Int && [low, high, q].iter().any(|x| x.fract() != 0.0) {
                    return Err(ParamProblem::IntStepNotWhole);
                }
                if (high - low) / q > 1e9 {
                    return Err(ParamProblem::TooManySteps { low: *low, high: *high, q: *q });
                }
            }
            D::RandInt { low, high } => {
                if low > high {
                    return Err(ParamProblem::Arguments {
                        distribution: kind,
                        needs: "low <= high",
                        got: format!("{low} and {high}"),
                    });
                }
            }
            D::Choice(values) => {
                if values.is_empty() {
                    return Err(ParamProblem::EmptyChoice);
                }
                for (i, v) in values.iter().enumerate() {
                    let fits = match (self.ty, v) {
                        (ParamType::Int, Value::Int(_)) | (ParamType::String, Value::Str(_)) => true,
                        (ParamType::Float, Value::Int(_)) => true,
                        (ParamType::Float, Value::Float(f)) => f.is_finite(),
                        _ => false,
                    };
                    if !fits {
                        return Err(ParamProblem::ChoiceWrongType { value: v.to_string(), ty: self.ty });
                    }
                    if values[..i].iter().any(|w| w.same(v)) {
                        return Err(ParamProblem::ChoiceTwice { value: v.to_string() });
                    }
                }
            }
        }
        Ok(())
    }

    /// The numeric view model-based samplers work in.
    pub(crate) fn dim(&self) -> Dim {
        use Distribution as D;
        match &self.distribution {
            D::Uniform { low, high } => Dim::numeric(*low, *high, None, false, self.ty),
            D::LogUniform { low, high } => Dim::log(*low, *high, self.ty),
            // Unbounded distributions are searched over mu ± 3 sigma, as Katib does.
            D::Normal { mu, sigma } => Dim::numeric(mu - 3.0 * sigma, mu + 3.0 * sigma, None, false, self.ty),
            D::LogNormal { mu, sigma } => Dim::log((mu - 3.0 * sigma).exp(), (mu + 3.0 * sigma).exp(), self.ty),
            D::QUniform { low, high, q } => {
                let top = low + ((high - low) / q + 1e-9).floor() * q;
                Dim::numeric(*low, top, Some(*q), false, self.ty)
            }
            D::RandInt { low, high } => Dim::numeric(*low as f64, *high as f64, Some(1.0), false, self.ty),
            D::Choice(values) => Dim::Categorical { choices: values.clone() },
        }
    }
}

/// A parameter as a number line (`low..=high` in internal units: `ln x` for log scales, with an optional
/// step) or a set of unordered choices.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Dim {
    Numeric {
        low: f64,
        high: f64,
        step: Option<f64>,
        log: bool,
        int: bool,
        /// The bounds in the parameter's own units: `e^low` rounds, so log values are clamped to these.
        outer: (f64, f64),
    },
    Categorical {
        choices: Vec<Value>,
    },
}

impl Dim {
    fn numeric(low: f64, high: f64, step: Option<f64>, log: bool, ty: ParamType) -> Dim {
        Dim::Numeric { low, high, step, log, int: ty == ParamType::Int, outer: (low, high) }
    }

    fn log(low: f64, high: f64, ty: ParamType) -> Dim {
        Dim::Numeric {
            low: low.ln(),
            high: high.ln(),
            step: None,
            log: true,
            int: ty == ParamType::Int,
            outer: (low, high),
        }
    }

    /// The internal coordinate of a value, or None when it is not a point of this dimension.
    pub(crate) fn encode(&self, v: &Value) -> Option<f64> {
        match self {
            Dim::Numeric { log, int, .. } => {
                if *int && !matches!(v, Value::Int(_)) {
                    return None;
                }
                let x = v.as_f64().filter(|x| x.is_finite())?;
                if *log { (x > 0.0).then(|| x.ln()) } else { Some(x) }
            }
            Dim::Categorical { choices } => choices.iter().position(|c| c.same(v)).map(|i| i as f64),
        }
    }

    /// The value at an internal coordinate, snapped to the step and clamped into the bounds.
    pub(crate) fn decode(&self, t: f64) -> Value {
        match self {
            Dim::Numeric { low, high, step, log, int, outer } => {
                let mut t = t.clamp(*low, *high);
                if let Some(q) = step {
                    t = (low + ((t - low) / q).round() * q).clamp(*low, *high);
                }
                let x = if *log { t.exp().clamp(outer.0, outer.1) } else { t };
                if *int { Value::Int(x.round() as i64) } else { Value::Float(x) }
            }
            Dim::Categorical { choices } => {
                let i = (t.max(0.0) as usize).min(choices.len() - 1);
                choices[i].clone()
            }
        }
    }

    /// The value at `u` in [0, 1): bounds map linearly (in internal units), steps and choices get equal shares.
    pub(crate) fn value_at_unit(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match self {
            Dim::Numeric { low, high, step: Some(q), .. } => {
                let n = ((high - low) / q).round() + 1.0;
                self.decode(low + (u * n).floor().min(n - 1.0) * q)
            }
            Dim::Numeric { low, high, .. } => self.decode(low + u * (high - low)),
            Dim::Categorical { choices } => self.decode((u * choices.len() as f64).floor()),
        }
    }

    /// The inverse of `value_at_unit` up to its rounding: the centre of the value's share of [0, 1].
    pub(crate) fn to_unit(&self, v: &Value) -> Option<f64> {
        let t = self.encode(v)?;
        Some(match self {
            Dim::Numeric { low, high, step: Some(q), .. } => {
                let n = ((high - low) / q).round() + 1.0;
                ((((t - low) / q).round() + 0.5) / n).clamp(0.0, 1.0)
            }
            Dim::Numeric { low, high, .. } => ((t - low) / (high - low)).clamp(0.0, 1.0),
            Dim::Categorical { choices } => (t + 0.5) / choices.len() as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(ty: ParamType, distribution: Distribution) -> Param {
        Param { name: "p".to_string(), ty, distribution }
    }

    #[test]
    fn validation_rejects_what_samplers_cannot_use() {
        use Distribution as D;
        let bad = [
            param(ParamType::Float, D::Uniform { low: 1.0, high: 1.0 }),
            param(ParamType::Float, D::LogUniform { low: 0.0, high: 1.0 }),
            param(ParamType::Float, D::Normal { mu: 0.0, sigma: 0.0 }),
            param(ParamType::Float, D::Uniform { low: f64::NAN, high: 1.0 }),
            param(ParamType::Int, D::Uniform { low: 0.0, high: 1.0 }),
            param(ParamType::Float, D::RandInt { low: 0, high: 3 }),
            param(ParamType::Int, D::RandInt { low: 3, high: 0 }),
            param(ParamType::Int, D::QUniform { low: 0.0, high: 10.0, q: 0.5 }),
            param(ParamType::Float, D::QUniform { low: 0.0, high: 10.0, q: 0.0 }),
            param(ParamType::Int, D::Choice(vec![Value::Str("a".into())])),
            param(ParamType::String, D::Choice(vec![])),
            param(ParamType::String, D::Choice(vec![Value::Str("a".into()), Value::Str("a".into())])),
        ];
        for p in bad {
            let space = Space { params: vec![p.clone()] };
            assert!(space.validate().is_err(), "{p:?} should be rejected");
        }
        let dup = Space {
            params: vec![
                param(ParamType::Int, D::RandInt { low: 0, high: 1 }),
                param(ParamType::Int, D::RandInt { low: 0, high: 1 }),
            ],
        };
        assert_eq!(dup.validate(), Err(SpaceError::SearchedTwice { name: "p".into() }));
        let good = Space {
            params: vec![
                param(ParamType::Float, D::Choice(vec![Value::Int(1), Value::Float(0.5)])),
                Param {
                    name: "q".into(),
                    ty: ParamType::Int,
                    distribution: D::QUniform { low: 0.0, high: 10.0, q: 2.0 },
                },
            ],
        };
        assert_eq!(good.validate(), Ok(()));
    }

    #[test]
    fn values_print_for_command_lines() {
        assert_eq!(Value::Int(64).text(), "64");
        assert_eq!(Value::Float(0.001).text(), "0.001");
        assert_eq!(Value::Float(2.0).text(), "2");
        assert_eq!(Value::Str("adam".into()).text(), "adam");
    }

    #[test]
    fn decoding_snaps_to_steps_and_bounds() {
        let q = param(ParamType::Float, Distribution::QUniform { low: 0.0, high: 1.0, q: 0.3 }).dim();
        assert_eq!(q.decode(0.95), Value::Float(0.8999999999999999));
        assert_eq!(q.decode(-4.0), Value::Float(0.0));
        let i = param(ParamType::Int, Distribution::RandInt { low: -2, high: 2 }).dim();
        assert_eq!(i.decode(1.6), Value::Int(2));
        assert_eq!(i.value_at_unit(0.0), Value::Int(-2));
        assert_eq!(i.value_at_unit(0.999), Value::Int(2));
        assert_eq!(i.to_unit(&Value::Int(0)), Some(0.5));
        let l = param(ParamType::Float, Distribution::LogUniform { low: 1e-4, high: 1.0 }).dim();
        let Value::Float(mid) = l.value_at_unit(0.5) else { panic!("float expected") };
        assert!((mid - 1e-2).abs() < 1e-12);
        assert_eq!(l.encode(&Value::Float(-1.0)), None);
        let c = param(ParamType::String, Distribution::Choice(vec![Value::Str("a".into()), Value::Str("b".into())]));
        assert_eq!(c.dim().value_at_unit(0.75), Value::Str("b".into()));
        assert_eq!(c.dim().encode(&Value::Str("z".into())), None);
    }
}
