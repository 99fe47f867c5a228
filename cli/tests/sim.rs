//! `tickwire sim`: a summary that is identical from run to run, timing aside.

mod support;

use support::tickwire;

fn summary(args: &[&str]) -> (Option<i32>, String) {
    let output = tickwire().arg("sim").args(args).output().expect("runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let without_timing: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("took ")).collect();
    (output.status.code(), without_timing.join("\n"))
}

#[test]
fn the_same_arguments_give_the_same_summary() {
    let args = ["--seeds", "3", "--seed", "0", "--steps", "100"];
    let (code, first) = summary(&args);
    let (again, second) = summary(&args);
    assert_eq!(first, second);
    assert_eq!(code, again);
    assert!(matches!(code, Some(0 | 1)), "{code:?}");
    assert!(first.contains("3 seeds"), "{first}");
    assert!(first.contains("rule checks passed"), "{first}");
    assert!(first.contains("liveness reached by"), "{first}");
    if code == Some(1) {
        assert!(
            first.contains("tickwire sim --seed "),
            "a failure names its replay: {first}"
        );
    }
}

#[test]
fn a_time_budget_runs_batch_after_batch_of_new_seeds() {
    let (code, text) = summary(&["--seeds", "2", "--steps", "30", "--for", "1"]);
    assert_eq!(code, Some(0), "{text}");
    let batches: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("tickwire sim: seeds "))
        .collect();
    assert!(batches.len() >= 2, "one batch only in a second:\n{text}");
    assert!(
        batches[0].starts_with("tickwire sim: seeds 0..=1,"),
        "{text}"
    );
    assert!(
        batches[1].starts_with("tickwire sim: seeds 2..=3,"),
        "{text}"
    );
}
