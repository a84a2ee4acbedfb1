//! Five-field cron schedules (`minute hour day-of-month month day-of-week`, UTC) for a `monitor`'s
//! `schedule` while `kfl run` keeps a model served: `*`, lists, ranges and steps.

use super::clock::Civil;

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

impl Cron {
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

    /// The first matching minute strictly after `after` (seconds since the epoch), within about a year.
    pub fn next_after(&self, after: u64) -> Option<u64> {
        let first = after / 60 + 1;
        for minute in first..first + 366 * 24 * 60 {
            let t = Civil::at(minute * 60);
            let day_ok = if self.either_day {
                self.days[t.day as usize] || self.weekdays[t.weekday as usize]
            } else {
                self.days[t.day as usize] && self.weekdays[t.weekday as usize]
            };
            if self.months[t.month as usize] && day_ok && self.hours[t.hour as usize] && self.minutes[t.minute as usize]
            {
                return Some(minute * 60);
            }
        }
        None
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

    // 2026-11-28T21:07:27Z is a Saturday.
    const NOW: u64 = 1_795_900_047;

    #[test]
    fn weekly_schedules_fire_on_their_weekday() {
        let monday_3am = Cron::parse("0 3 * * 1").expect("cron");
        // The next Monday is 2026-11-30; 03:00 UTC.
        assert_eq!(monday_3am.next_after(NOW), Some(1_796_007_600));
        let t = Civil::at(1_796_007_600);
        assert_eq!((t.month, t.day, t.hour, t.minute, t.weekday), (11, 30, 3, 0, 1));
    }

    #[test]
    fn steps_lists_and_ranges() {
        let every_15 = Cron::parse("*/15 * * * *").expect("cron");
        assert_eq!(every_15.next_after(NOW), Some(NOW - 27 - 7 * 60 + 15 * 60));
        let weekdays = Cron::parse("30 9 * * 1-5").expect("cron");
        let next = weekdays.next_after(NOW).expect("next");
        assert_eq!(Civil::at(next).weekday, 1);
        let sunday = Cron::parse("0 0 * * 7").expect("cron");
        assert_eq!(Civil::at(sunday.next_after(NOW).expect("next")).weekday, 0);
        assert_eq!(Cron::parse("0 12 1,15 * *").expect("cron").next_after(NOW).map(|t| Civil::at(t).day), Some(1));
    }

    #[test]
    fn bad_schedules_say_which_field() {
        assert!(Cron::parse("0 3 * *").unwrap_err().contains("five fields"));
        assert!(Cron::parse("61 * * * *").unwrap_err().contains("bad minute"));
        assert!(Cron::parse("* * * 13 *").unwrap_err().contains("bad month"));
        assert!(Cron::parse("*/0 * * * *").unwrap_err().contains("bad minute"));
    }
}
