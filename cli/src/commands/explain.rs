//! `kfl explain CODE`: what a diagnostic code means, an example, and the fix.

use kfl_compiler::diagnostics::Code;

use crate::Status;

/// Explain a diagnostic code.
///
/// Example: `kfl explain E0302` (or by name: `kfl explain search-space-mismatch`)
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A code such as `E0101`, or its name such as `unknown-name`; `--list` shows all.
    code: Option<String>,
    /// List every code with its summary.
    #[arg(long)]
    list: bool,
}

pub fn run(args: Args) -> Status {
    if args.list || args.code.is_none() {
        for code in Code::ALL {
            println!("{}  {:<26} {}", code.as_str(), code.name(), code.explanation().summary);
        }
        return Status::Ok;
    }
    let wanted = args.code.unwrap_or_default();
    let Some(code) = Code::parse(&wanted) else {
        eprintln!("error: unknown code `{wanted}`; `kfl explain --list` shows every code");
        return Status::Usage;
    };
    let explanation = code.explanation();
    println!("{} ({}): {}\n", code.as_str(), code.name(), explanation.summary);
    println!("{}\n", explanation.details);
    println!("Example:\n");
    for line in explanation.example.lines() {
        println!("    {line}");
    }
    println!("\nFix: {}", explanation.fix);
    Status::Ok
}
