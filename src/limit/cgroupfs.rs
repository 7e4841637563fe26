//! Finding and talking to cgroup filesystems: mountinfo and /proc/self/cgroup parsing,
//! file reads and writes that say which file failed, and key-value stat parsing.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::units::{cpu_list, parse_cpu_list};

/// Prefix of every cgroup and helper process name dynobench creates (stale-group cleanup
/// finds groups by it).
pub const GROUP_PREFIX: &str = "dynobench-";

/// `statfs` magic of a cgroup v2 filesystem.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// `statfs` magic of a cgroup v1 filesystem.
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;

/// One cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The path inside the hierarchy that is mounted there (usually `/`).
    pub root: String,
    /// `true` for cgroup2, `false` for a v1 hierarchy.
    pub v2: bool,
    /// The v1 controllers bound to this hierarchy (empty for v2).
    pub controllers: Vec<String>,
}

/// Parses `/proc/self/mountinfo` text into its cgroup mounts.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let fstype = r[0];
        let unescape = |s: &str| {
            s.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\134", "\\")
        };
        let (root, mount_point) = (unescape(l[3]), PathBuf::from(unescape(l[4])));
        match fstype {
            "cgroup2" => out.push(CgroupMount {
                mount_point,
                root,
                v2: true,
                controllers: vec![],
            }),
            "cgroup" => {
                let known = [
                    "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer",
                ];
                let controllers = r[2]
                    .split(',')
                    .filter(|o| known.contains(o))
                    .map(str::to_string)
                    .collect();
                out.push(CgroupMount {
                    mount_point,
                    root,
                    v2: false,
                    controllers,
                });
            }
            _ => {}
        }
    }
    out
}

/// One line of `/proc/self/cgroup`: hierarchy id, controllers, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Hierarchy id (0 for v2).
    pub id: u32,
    /// Controllers of that hierarchy (empty for v2).
    pub controllers: Vec<String>,
    /// Path of this process's group in the hierarchy.
    pub path: String,
}

/// Parses `/proc/self/cgroup`.
pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse().ok()?;
            let ctl = it.next()?;
            let path = it.next()?.to_string();
            let controllers = ctl
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_start_matches("name=").to_string())
                .collect();
            Some(Membership {
                id,
                controllers,
                path,
            })
        })
        .collect()
}

/// The directory of this process's own group in a mount, given its membership path.
pub fn own_dir(mount: &CgroupMount, path: &str) -> PathBuf {
    // The mount shows the hierarchy from `root` down; strip it from the membership path.
    let rel = path
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(path);
    let rel = rel.trim_matches('/');
    if rel.is_empty() {
        mount.mount_point.clone()
    } else {
        mount.mount_point.join(rel)
    }
}

/// The `statfs` magic of a path, if it can be read.
pub fn fs_magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path).ok().map(|s| s.filesystem_type().0)
}

/// Writes `value` to `dir/file`, naming the file and value on failure.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    let p = dir.join(file);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| format!("writing '{value}' to {}: {e}", p.display()))
}

/// Reads `dir/file` as text.
pub fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// Reads one `key value` field from a stat-style file (`cpu.stat`, `memory.events`).
pub fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Reads a file holding one integer.
pub fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// Creates and removes a probe group under `dir` to prove write access.
pub fn probe_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!("{}{}-probe", GROUP_PREFIX, std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| {
        format!(
            "cannot create groups under {} ({e}); run as root or delegate that group to your user",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

/// Sends SIGKILL to every process listed in `dir/cgroup.procs` (used when removing groups).
pub fn kill_members(dir: &Path) {
    if let Some(text) = read(dir, "cgroup.procs") {
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGCONT);
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Removes a cgroup directory, retrying briefly while killed members finish exiting.
pub fn remove_group(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    let mut last = String::new();
    for attempt in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                last = e.to_string();
                if attempt % 10 == 0 {
                    kill_members(dir);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    Err(format!("could not remove {}: {last}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 30 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 /docker/abc /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/systemd rw shared:14 - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn parses_mountinfo() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 5);
        assert!(m[0].v2);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(m[1].controllers, vec!["cpu"]);
        assert_eq!(m[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(m[3].root, "/docker/abc");
        assert!(m[4].controllers.is_empty());
    }

    #[test]
    fn parses_proc_cgroup_and_own_dir() {
        let p = parse_proc_cgroup("4:memory:/docker/abc/inner\n1:cpu:/\n0::/user.slice\n9:name=systemd:/\n");
        assert_eq!(p[0].controllers, vec!["memory"]);
        assert_eq!(p[2].id, 0);
        assert_eq!(p[2].path, "/user.slice");
        assert_eq!(p[3].controllers, vec!["systemd"]);
        let m = &parse_mountinfo(MOUNTINFO)[3];
        assert_eq!(
            own_dir(m, "/docker/abc/inner"),
            PathBuf::from("/sys/fs/cgroup/memory/inner")
        );
        let cpu = &parse_mountinfo(MOUNTINFO)[1];
        assert_eq!(own_dir(cpu, "/"), PathBuf::from("/sys/fs/cgroup/cpu"));
    }

    #[test]
    fn stat_fields() {
        let s = "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\n";
        assert_eq!(stat_field(s, "nr_throttled"), Some(4));
        assert_eq!(stat_field(s, "throttled_time"), Some(123_456));
        assert_eq!(stat_field(s, "nope"), None);
    }
}
