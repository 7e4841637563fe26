//! Unit tests of the group helpers: parsing, and a forking shell's process group found,
//! measured and killed whole.

use super::*;

#[test]
fn parses_pressure_and_stat() {
    let t = "some avg10=1.50 avg60=0.20 avg300=0.00 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=789\n";
    assert_eq!(
        parse_pressure(t),
        Some(Pressure {
            some_us: 123_456,
            full_us: 789
        })
    );
    assert_eq!(parse_pressure("some avg10=0 total=5\n").unwrap().full_us, 0);
    assert_eq!(parse_pressure("garbage"), None);
    assert_eq!(stat_pgid("42 (a b) c) S 1 4242 4242 0"), Some(4242));
}

#[test]
fn finds_listening_sockets() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1\n   1: 0100007F:1F91 00000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 556 1\n";
    let inodes: BTreeSet<u64> = [555, 556].into();
    assert_eq!(listening_in(table, &inodes), vec![8080]);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert!(listening_ports(&[std::process::id() as i32]).contains(&port));
}

#[test]
fn kills_a_forking_process_group() {
    use std::os::unix::process::CommandExt;
    // A leader that forks two busy children and ignores SIGTERM.
    let mut child = std::process::Command::new("sh")
        .args(["-c", "trap '' TERM; (while :; do :; done) & (sleep 300) & wait"])
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let t = Instant::now();
    while process_group_members(pgid).len() < 3 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let members = process_group_members(pgid);
    assert!(members.len() >= 3, "{members:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(cpu_ns(&members) > 0);
    assert!(rss_total(&members) > 0);
    assert!(run_delay_ns(&members).is_some());
    let left = kill_all(None, Some(pgid), Duration::from_secs(5));
    let _ = child.wait();
    assert!(left.is_empty(), "still alive: {left:?}");
    assert!(process_group_members(pgid).iter().all(|&p| zombie(p)));
}
