//! Guides that cannot rot: every `dynobench …` command line in README.md and docs/*.md
//! fenced blocks is parsed by the CLI's own clap definitions (parse only, nothing runs),
//! so a renamed or removed flag fails the suite instead of the reader.

use std::path::{Path, PathBuf};

use clap::Parser;
use dynobench::cli::Cli;

/// One documented command: where it is and its arguments after `dynobench`.
struct DocCommand {
    place: String,
    args: Vec<String>,
}

/// The markdown files whose commands are checked.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("results/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// `line` without a shell comment (a `#` at a word start, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The dynobench invocations in one shell line: split at pipes, `&&`, `;` and redirections,
/// each segment that runs `dynobench` (or `cargo run --release --`) after optional
/// `VAR=value` prefixes.
fn invocations(tokens: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for segment in tokens.split(|t| matches!(t.as_str(), "|" | "||" | "&&" | ";" | "&")) {
        let mut rest: Vec<&String> = segment
            .iter()
            .skip_while(|t| t.contains('=') && !t.starts_with('-'))
            .collect();
        // A redirection ends the arguments.
        if let Some(at) = rest
            .iter()
            .position(|t| t.starts_with('>') || t.starts_with('<') || t.starts_with("2>"))
        {
            rest.truncate(at);
        }
        let Some(first) = rest.first() else { continue };
        let args: Vec<String> = if first.ends_with("dynobench") {
            // Program output quoted in a block ("dynobench plan: 50 req/s, …") is not a command.
            if rest.get(1).is_some_and(|a| a.ends_with(':')) {
                continue;
            }
            rest[1..].iter().map(|s| s.to_string()).collect()
        } else if rest.len() >= 4 && *first == "cargo" && rest[1] == "run" {
            match rest.iter().position(|t| *t == "--") {
                Some(dd) => rest[dd + 1..].iter().map(|s| s.to_string()).collect(),
                None => continue,
            }
        } else {
            continue;
        };
        out.push(args);
    }
    out
}

/// Shell variables the guides use in loops and barriers, with a value of the right shape.
const SAMPLE_VARIABLES: [(&str, &str); 2] = [("i", "0"), ("T", "2026-12-01T10:00:00Z")];

/// `shell` with the guides' shell variables (`$i`, `${T}`) replaced by sample values.
fn expand(shell: &str) -> String {
    let mut out = shell.to_string();
    for (name, value) in SAMPLE_VARIABLES {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// The inline code spans of a markdown line that hold a dynobench command.
fn inline_commands(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("dynobench ") || span.starts_with("cargo run --release -- "))
        .filter(|span| span.contains(" --") && !span.contains('…'))
        .map(str::to_string)
        .collect()
}

/// Every documented command of `file` (named by `name`), with its line number: each line
/// of a fenced block, and each inline code span holding a whole command (one with a flag).
fn commands_in(file: &Path, name: &str) -> Vec<DocCommand> {
    let text = std::fs::read_to_string(file).expect("readable doc");
    let mut out = Vec::new();
    let mut push = |place: String, shell: &str| {
        let tokens =
            shlex::split(&expand(shell)).unwrap_or_else(|| panic!("{place}: unbalanced quotes in `{shell}`"));
        for args in invocations(&tokens) {
            out.push(DocCommand {
                place: place.clone(),
                args,
            });
        }
    };
    let mut fenced = false;
    let (mut pending, mut start) = (String::new(), 0);
    let (mut paragraph, mut para_start) = (String::new(), 0);
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        let fence = line.trim_start().starts_with("```");
        if !fenced && (fence || line.trim().is_empty()) {
            for span in inline_commands(&paragraph) {
                push(format!("{name}:{para_start}"), &span);
            }
            paragraph.clear();
        }
        if fence {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            if paragraph.is_empty() {
                para_start = i + 1;
            }
            paragraph.push_str(line);
            paragraph.push(' ');
            continue;
        }
        if pending.is_empty() {
            start = i + 1;
        }
        let line = line.trim().trim_start_matches("$ ");
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let shell = strip_comment(&pending).trim().to_string();
        pending.clear();
        if shell.contains("dynobench") || shell.starts_with("cargo run") {
            push(format!("{name}:{start}"), &shell);
        }
    }
    out
}

#[test]
fn every_documented_command_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let commands: Vec<DocCommand> = documents()
        .iter()
        .flat_map(|f| commands_in(f, &f.strip_prefix(root).unwrap_or(f).display().to_string()))
        .collect();
    let mut failures = Vec::new();
    for c in &commands {
        let argv = std::iter::once("dynobench".to_string()).chain(c.args.iter().cloned());
        if let Err(e) = Cli::try_parse_from(argv) {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if !matches!(e.kind(), DisplayHelp | DisplayVersion) {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                failures.push(format!(
                    "{}: dynobench {}\n    {first}",
                    c.place,
                    c.args.join(" ")
                ));
            }
        }
    }
    // The guides hold dozens of commands: finding few means the extraction broke.
    assert!(
        commands.len() >= 40,
        "only {} documented commands found",
        commands.len()
    );
    assert!(
        failures.is_empty(),
        "{} documented commands do not parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_extraction_sees_through_shell_syntax() {
    let line = |s: &str| invocations(&shlex::split(strip_comment(s)).unwrap());
    assert_eq!(
        line("DYNOBENCH_TOKEN=x dynobench run --json --no-save | jq '.classes[0]' > out.json # note"),
        vec![vec!["run".to_string(), "--json".into(), "--no-save".into()]]
    );
    assert_eq!(
        line("cargo run --release -- plan --rate 5"),
        vec![vec!["plan".to_string(), "--rate".into(), "5".into()]]
    );
    assert!(line("jq .x results/a/run.json").is_empty());
    // And a wrong flag is caught by the same parse the test uses.
    assert!(Cli::try_parse_from(["dynobench", "run", "--no-such-flag"]).is_err());
}
