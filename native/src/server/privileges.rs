//! `--user NAME`: bind first (ports below 1024 need root or `CAP_NET_BIND_SERVICE`), then
//! become an unprivileged user before a single byte from the network is read, so that
//! a bug in reverb hands an attacker nobody's rights, not root's.
//!
//! std wraps none of these calls, so each is `unsafe` with its reason beside it; they
//! are the only `unsafe` of the server.

use std::ffi::CString;
use std::io;

/// A user to run as, looked up when the command line is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name given to `--user`.
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its primary group id: the only group kept.
    pub gid: u32,
}

/// The user called `name` in the system's user database.
pub fn lookup_user(name: &str) -> Result<User, String> {
    let c_name = CString::new(name).map_err(|_| format!("user name {name:?} contains a NUL"))?;
    match getpwnam(&c_name) {
        Ok(Some((uid, gid))) => Ok(User {
            name: name.to_owned(),
            uid,
            gid,
        }),
        Ok(None) => Err(format!("no user named {name:?} on this system")),
        Err(e) => Err(format!("cannot look up user {name:?}: {e}")),
    }
}

/// The uid and primary gid of the user called `name`, if there is one.
#[allow(unsafe_code)]
fn getpwnam(name: &CString) -> io::Result<Option<(u32, u32)>> {
    // Enough for any passwd entry in practice; grown on ERANGE up to 1 MiB.
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: `passwd` is a plain C struct of integers and pointers, for which all
        // zeroes is a valid value; getpwnam_r overwrites it.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `name` is NUL-terminated, `entry`
        // and `result` are ours, and `buf` is writable for `buf.len()` bytes. The strings
        // `entry` points into `buf` are not read; only its integer fields are.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        return Ok((!result.is_null()).then_some((entry.pw_uid, entry.pw_gid)));
    }
}

/// Whether the process runs with root's effective user id.
#[allow(unsafe_code)]
pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid takes no argument, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Becomes `user` for good: supplementary groups cleared to its primary group, then its
/// group, then its user id (in that order: only root may change groups). Fails if any
/// step fails, or if root could be regained afterwards.
#[allow(unsafe_code)]
pub(crate) fn become_user(user: &User) -> io::Result<()> {
    let groups = [user.gid as libc::gid_t];
    // SAFETY: setgroups reads `groups.len()` gid_t values from the pointer, which points
    // at our array, alive for the whole call.
    check(
        unsafe { libc::setgroups(groups.len(), groups.as_ptr()) },
        "setgroups",
    )?;
    // SAFETY: setgid takes a plain integer and touches no memory of ours. As root it sets
    // the real, effective and saved group ids together. glibc applies it to every thread.
    check(unsafe { libc::setgid(user.gid) }, "setgid")?;
    // SAFETY: as for setgid: a plain integer; real, effective and saved user ids, every
    // thread.
    check(unsafe { libc::setuid(user.uid) }, "setuid")?;
    // SAFETY: setuid(0) only asks; it touches no memory. It must fail now.
    if user.uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(io::Error::other(
            "root could be regained after dropping privileges",
        ));
    }
    Ok(())
}

fn check(rc: libc::c_int, call: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{call}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_and_a_missing_user_is_named() {
        let root = lookup_user("root").expect("every Unix has root");
        assert_eq!((root.uid, root.gid), (0, 0));
        let missing = lookup_user("no-such-user-reverb").unwrap_err();
        assert!(missing.contains("no user named"), "{missing}");
    }
}
