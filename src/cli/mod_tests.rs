//! Unit tests of `cli/mod.rs` (the flag definitions).

use super::*;

#[test]
fn util_is_one_grammar_for_run_and_simulate() {
    let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.command);
    for util in ["10,20,30", "10..30:10", "10,20..30:10"] {
        let Ok(Command::Simulate(s)) = parse(&["dynobench", "simulate", "--util", util]) else {
            panic!("simulate --util {util}")
        };
        let Ok(Command::Run(r)) = parse(&["dynobench", "run", "--util", util]) else {
            panic!("run --util {util}")
        };
        assert_eq!(s.util.unwrap().points(), vec![10.0, 20.0, 30.0]);
        assert_eq!(r.util.points(), vec![10.0, 20.0, 30.0]);
    }
    let e = parse(&["dynobench", "simulate", "--util", "10,x"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--util") && e.contains("A..B:STEP"), "{e}");
}
