//! Five-field cron schedules (`minute hour day-of-month month day-of-week`, UTC): `*`, lists, ranges and
//! steps. The one grammar of a `monitor`'s `schedule`: `kfl check` refuses what [`Cron::parse`] refuses,
//! and `kfl run` fires on what it matches.
//!
//! It is also what a Kubernetes CronJob accepts for these forms (robfig/cron v3 `parser.go`, used by the
//! CronJob controller of Kubernetes 1.33): a range must not run backwards (`5-1` is refused there too).

/// A parsed schedule: for each field, which values match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Both day fields restricted: either may match (as cron does).
    either_day: bool,
}

/// A moment as the schedule sees it (UTC): month 1-12, day 1-31, weekday 0-6 from Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    pub month: u32,
    pub day: u32,
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
}

impl Cron {
    /// Reads a schedule; the error names the field and what it allows.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!("`{text}`: a schedule has five fields (minute hour day month weekday)"));
        };
        let weekdays = field(weekday, 0, 7, "weekday")?;
        // 7 is Sunday too.
        let mut folded = weekdays[..7].to_vec();
        folded[0] |= weekdays[7];
        Ok(Cron {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day of month")?,
            months: field(month, 1, 12, "month")?,
            weekdays: folded,
            either_day: *day != "*" && *weekday != "*",
        })
    }

    /// Whether the schedule fires at this minute.
    pub fn matches(&self, t: Moment) -> bool {
        let day_ok = if self.either_day {
            self.days[t.day as usize] || self.weekdays[t.weekday as usize]
        } else {
            self.days[t.day as usize] && self.weekdays[t.weekday as usize]
        };
        self.months[t.month as usize] && day_ok && self.hours[t.hour as usize] && self.minutes[t.minute as usize]
    }
}

/// Which values of `low..=high` a field matches; the vector is indexed by value.
fn field(text: &str, low: u32, high: u32, name: &str) -> Result<Vec<bool>, String> {
    let mut out = vec![false; high as usize + 1];
    let bad = || format!("bad {name} `{text}` (allowed: {low}-{high}, `*`, lists, ranges, steps)");
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().map_err(|_| bad())?),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                None => {
                    let v: u32 = range.parse().map_err(|_| bad())?;
                    (v, if step > 1 { high } else { v })
                }
            },
        };
        if step == 0 || from < low || to > high || from > to {
            return Err(bad());
        }
        for value in (from..=to).step_by(step as usize) {
            out[value as usize] = true;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_schedules_say_which_field() {
        assert!(Cron::parse("0 3 * *").unwrap_err().contains("five fields"));
        assert!(Cron::parse("61 * * * *").unwrap_err().contains("bad minute"));
        assert!(Cron::parse("* * * 13 *").unwrap_err().contains("bad month"));
        assert!(Cron::parse("*/0 * * * *").unwrap_err().contains("bad minute"));
        assert!(Cron::parse("0 3 * * 5-1").unwrap_err().contains("bad weekday"));
    }

    #[test]
    fn ranges_lists_and_steps_match() {
        let at = |weekday, hour, minute| Moment { month: 11, day: 30, weekday, hour, minute };
        let weekdays = Cron::parse("30 9 * * 1-5").expect("cron");
        assert!(weekdays.matches(at(1, 9, 30)));
        assert!(!weekdays.matches(at(6, 9, 30)));
        let quarter = Cron::parse("*/15 0,12 * * *").expect("cron");
        assert!(quarter.matches(at(3, 12, 45)));
        assert!(!quarter.matches(at(3, 11, 45)));
        assert!(Cron::parse("0 0 * * 7").expect("cron").matches(at(0, 0, 0)));
    }
}
