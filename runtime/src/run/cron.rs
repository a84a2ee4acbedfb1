//! When a `monitor`'s `schedule` next fires while `kfl run` keeps a model served; the schedule's grammar is
//! `kfl_plan::cron`, the one the checker uses.

use super::clock::Civil;
pub use kfl_plan::cron::Cron;
use kfl_plan::cron::Moment;

/// The first matching minute strictly after `after` (seconds since the epoch), within about a year.
pub fn next_after(cron: &Cron, after: u64) -> Option<u64> {
    let first = after / 60 + 1;
    (first..first + 366 * 24 * 60).map(|minute| minute * 60).find(|&t| {
        let c = Civil::at(t);
        cron.matches(Moment { month: c.month, day: c.day, weekday: c.weekday, hour: c.hour, minute: c.minute })
    })
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
        assert_eq!(next_after(&monday_3am, NOW), Some(1_796_007_600));
        let t = Civil::at(1_796_007_600);
        assert_eq!((t.month, t.day, t.hour, t.minute, t.weekday), (11, 30, 3, 0, 1));
    }

    #[test]
    fn steps_lists_and_ranges() {
        let every_15 = Cron::parse("*/15 * * * *").expect("cron");
        assert_eq!(next_after(&every_15, NOW), Some(NOW - 27 - 7 * 60 + 15 * 60));
        let weekdays = Cron::parse("30 9 * * 1-5").expect("cron");
        let next = next_after(&weekdays, NOW).expect("next");
        assert_eq!(Civil::at(next).weekday, 1);
        let sunday = Cron::parse("0 0 * * 7").expect("cron");
        assert_eq!(Civil::at(next_after(&sunday, NOW).expect("next")).weekday, 0);
        assert_eq!(next_after(&Cron::parse("0 12 1,15 * *").expect("cron"), NOW).map(|t| Civil::at(t).day), Some(1));
    }
}
