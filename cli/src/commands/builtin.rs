//! `kfl builtin`: the built-in steps the `std.data` and `std.eval` components run (logic in `kfl_runtime::builtin`).
//!
//! The argument shapes are the ones `stdlib/data.kfl` and `stdlib/eval.kfl` put in their `run` lines. Each
//! builtin prints what it did as `name=value` lines (Katib's StdOut metric format) on stdout.

use std::path::PathBuf;

use kfl_runtime::builtin::{self, BuiltinError};

use crate::Status;

/// Run a built-in step on CSV tables (what `std.data` and `std.eval` components execute).
///
/// Example: `kfl builtin split data.csv --train train.csv --test test.csv --fraction 0.2 --seed 7`
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    builtin: Builtin,
}

#[derive(clap::Subcommand, Debug)]
enum Builtin {
    /// Shuffle a CSV table's rows (header kept) and split them into train and test tables.
    Split {
        /// The CSV table to split.
        data: PathBuf,
        #[arg(long)]
        train: PathBuf,
        #[arg(long)]
        test: PathBuf,
        /// Share of the rows that goes to the test table (0 to 1), rounded to the nearest row.
        #[arg(long, default_value_t = 0.2)]
        fraction: f64,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        seed: i64,
    },
    /// Draw rows of a CSV table uniformly at random without replacement, kept in table order.
    Sample {
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// How many rows; a smaller table is copied whole.
        #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
        rows: i64,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        seed: i64,
    },
    /// Profile a CSV table as JSON: per column its type, missing and distinct values, min/mean/max of numbers.
    Describe {
        data: PathBuf,
        /// Where the JSON profile goes.
        #[arg(long)]
        out: PathBuf,
        /// A file that receives the number of rows.
        #[arg(long)]
        rows_out: Option<PathBuf>,
    },
    /// Evaluation metrics of a CSV table with a column of true values and a column of predictions.
    Metrics {
        #[command(subcommand)]
        kind: Metrics,
    },
}

#[derive(clap::Subcommand, Debug)]
enum Metrics {
    /// Accuracy, macro precision/recall/F1 and the confusion matrix.
    Classification {
        predictions: PathBuf,
        #[command(flatten)]
        columns: Columns,
        /// Where the JSON report goes.
        #[arg(long)]
        report: PathBuf,
        #[arg(long)]
        accuracy_out: Option<PathBuf>,
        #[arg(long)]
        f1_out: Option<PathBuf>,
    },
    /// Root mean squared error, mean absolute error and R².
    Regression {
        predictions: PathBuf,
        #[command(flatten)]
        columns: Columns,
        /// Where the JSON report goes.
        #[arg(long)]
        report: PathBuf,
        #[arg(long)]
        rmse_out: Option<PathBuf>,
        #[arg(long)]
        mae_out: Option<PathBuf>,
        #[arg(long)]
        r2_out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
struct Columns {
    /// The column of true values.
    #[arg(long, default_value = "label")]
    label: String,
    /// The column of predicted values.
    #[arg(long, default_value = "prediction")]
    prediction: String,
}

pub fn run(args: Args) -> Status {
    let (name, result) = match args.builtin {
        Builtin::Split { data, train, test, fraction, seed } => (
            "split",
            builtin::split::split(&data, &train, &test, fraction, seed).map(|s| {
                vec![
                    ("rows", s.rows.to_string()),
                    ("train_rows", s.train_rows.to_string()),
                    ("test_rows", s.test_rows.to_string()),
                ]
            }),
        ),
        Builtin::Sample { data, out, rows, seed } => (
            "sample",
            builtin::sample::sample(&data, &out, rows, seed)
                .map(|s| vec![("rows", s.rows.to_string()), ("sampled_rows", s.sampled.to_string())]),
        ),
        Builtin::Describe { data, out, rows_out } => (
            "describe",
            builtin::describe::describe(&data, &out, rows_out.as_deref())
                .map(|p| vec![("rows", p.rows.to_string()), ("columns", p.columns.len().to_string())]),
        ),
        Builtin::Metrics { kind } => ("metrics", metrics(kind)),
    };
    match result {
        Ok(lines) => {
            for (key, value) in lines {
                println!("{key}={value}");
            }
            Status::Ok
        }
        Err(err) => {
            eprintln!("error: kfl builtin {name}: {err}");
            Status::UserErrors
        }
    }
}

fn metrics(kind: Metrics) -> Result<Vec<(&'static str, String)>, BuiltinError> {
    use builtin::metrics::{classification, regression};
    match kind {
        Metrics::Classification { predictions, columns, report, accuracy_out, f1_out } => {
            let outputs = classification::ClassificationOutputs {
                report: &report,
                accuracy: accuracy_out.as_deref(),
                f1: f1_out.as_deref(),
            };
            let r = classification::run(&predictions, &columns.label, &columns.prediction, outputs)?;
            Ok(vec![
                ("rows", r.rows.to_string()),
                ("accuracy", r.accuracy.to_string()),
                ("precision", r.precision.to_string()),
                ("recall", r.recall.to_string()),
                ("f1", r.f1.to_string()),
            ])
        }
        Metrics::Regression { predictions, columns, report, rmse_out, mae_out, r2_out } => {
            let outputs = regression::RegressionOutputs {
                report: &report,
                rmse: rmse_out.as_deref(),
                mae: mae_out.as_deref(),
                r2: r2_out.as_deref(),
            };
            let r = regression::run(&predictions, &columns.label, &columns.prediction, outputs)?;
            Ok(vec![
                ("rows", r.rows.to_string()),
                ("rmse", r.rmse.to_string()),
                ("mae", r.mae.to_string()),
                ("r2", r.r2.to_string()),
            ])
        }
    }
}
