//! Output flags shared by every command: `-w table|json|markdown` and `--out FILE`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::report::{Format, OutputPlan};

/// `-w/--write-out` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Markdown,
}

/// Output flags.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(short = 'w', long = "write-out", value_enum, default_value = "table")]
    pub write_out: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl From<OutputArgs> for OutputPlan {
    fn from(args: OutputArgs) -> Self {
        OutputPlan {
            format: match args.write_out {
                FormatArg::Table => Format::Table,
                FormatArg::Json => Format::Json,
                FormatArg::Markdown => Format::Markdown,
            },
            out: args.out,
        }
    }
}
