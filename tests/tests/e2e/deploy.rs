//! `deploy/`: the files that run reverb elsewhere, kept correct by running what can run
//! here. No image is built and no cluster is reached: the systemd unit's `ExecStart`
//! serves an echo on loopback (and `systemd-analyze verify` accepts the unit where it is
//! installed), the Kubernetes manifests parse (PyYAML) and their
//! container's arguments and variables are accepted by `reverb serve --print-config`, and
//! so are the Dockerfile's, whose build step is the README's build command and a step of
//! `scripts/test-all.sh`, which CI runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{binary, Server, LIMIT};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A directory of this test's own, removed with it.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("reverb-e2e-deploy-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `reverb ARGS --print-config` with exactly `env`: it must accept them. Returns the
/// printed file.
fn print_config(args: &[String], env: &[(String, String)]) -> String {
    let output = Command::new(binary())
        .args(args)
        .arg("--print-config")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run reverb");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} refused: {err}");
    String::from_utf8(output.stdout).unwrap()
}

/// `GET /healthz` on the admin address: the status line.
fn healthz(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connect to admin");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// The admin address a server printed, if it has one.
fn admin_addr(server: &Server) -> SocketAddr {
    let line = server.await_stdout("admin endpoint on http://");
    let rest = line.split("http://").nth(1).unwrap();
    rest.split(' ')
        .next()
        .unwrap()
        .parse()
        .expect("admin address")
}

#[test]
fn the_service_units_exec_start_serves_an_echo_and_stops_on_sigterm() {
    let unit = read("deploy/reverb.service");
    for hardening in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "Restart=on-failure",
        "LimitNOFILE=",
    ] {
        assert!(unit.contains(hardening), "the unit lacks {hardening:?}");
    }
    let exec = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words[..2], ["/usr/local/bin/reverb", "serve"], "{exec}");
    let at = words
        .iter()
        .position(|w| *w == "--config")
        .expect("--config");
    assert_eq!(words[at + 1], "/etc/reverb/reverb.toml");
    // The sample file as /etc/reverb/reverb.toml, on loopback port 0 instead of the
    // service's ports.
    let dir = Dir::new("systemd");
    let config = read("deploy/reverb.toml")
        .replace("\"0.0.0.0:7007\"", "\"127.0.0.1:0\"")
        .replace("\"127.0.0.1:9090\"", "\"127.0.0.1:0\"");
    assert!(
        !config.contains("0.0.0.0"),
        "a public address left: {config}"
    );
    let config_path = dir.0.join("reverb.toml");
    std::fs::write(&config_path, config).unwrap();
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| w.replace("/etc/reverb/reverb.toml", config_path.to_str().unwrap()))
        .collect();
    let mut command = Command::new(binary());
    command
        .args(&args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut server = Server::spawn(command, 1)
        .unwrap_or_else(|(status, err)| panic!("ExecStart did not serve ({status:?}): {err}"));
    server.connect().roundtrip(b"hello\n", b"hello\n");
    // The file's log format reached the logs.
    server.await_log(&["{\"timestamp\":", "connection"]);
    assert!(healthz(admin_addr(&server)).contains(" 200 "));
    server.signal("TERM");
    let (status, out) = server.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(out.contains("stopped by SIGTERM"), "{out}");

    // systemd's own check, where systemd is installed, on the unit as written but for
    // the binary's path.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let unit_path = dir.0.join("reverb.service");
        let unit = unit.replace("/usr/local/bin/reverb", binary().to_str().unwrap());
        std::fs::write(&unit_path, unit).unwrap();
        let output = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit_path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "systemd-analyze verify: {err}");
        // Unknown keys are only warnings, with the file's name.
        assert!(
            !err.contains("reverb.service"),
            "systemd-analyze verify: {err}"
        );
    }
}

/// The manifests as JSON, by Debian's PyYAML.
fn manifests() -> Vec<serde_json::Value> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)",
        ])
        .stdin(std::fs::File::open(repo().join("deploy/kubernetes.yaml")).unwrap())
        .output()
        .expect("python3 (bash scripts/test-all.sh installs it, with PyYAML)");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "deploy/kubernetes.yaml: {err}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_kubernetes_manifests_parse_probe_healthz_and_their_arguments_are_accepted() {
    let docs = manifests();
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let deployment = kind("Deployment");
    let service = kind("Service");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(container["resources"]["requests"]["memory"].is_string());
    let ports = container["ports"].as_array().unwrap();
    let port = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no port {name}"))["containerPort"]
            .as_u64()
            .unwrap()
    };
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}");
        assert_eq!(get["port"], "admin", "{probe}");
    }
    // The Service sends to the pod's named ports, and its selector picks the pod. Not
    // to the admin port: the probes and Prometheus reach each pod's own address, and
    // through the Service anyone in the cluster could hold the endpoint's connections.
    for p in service["spec"]["ports"].as_array().unwrap() {
        let target = p["targetPort"].as_str().unwrap();
        port(target);
        assert_ne!(target, "admin", "the Service exposes the admin endpoint");
        assert_ne!(
            p["port"],
            port("admin"),
            "the Service exposes the admin port"
        );
    }
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    // The container's arguments and variables are a configuration reverb accepts,
    // listening where the ports say.
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let printed = print_config(&args, &env);
    let echo = format!("listen = [\"0.0.0.0:{}\"]", port("echo"));
    assert!(
        printed.lines().any(|l| l == echo),
        "{echo} not in:\n{printed}"
    );
    assert!(
        printed.lines().any(|l| l == "log-format = \"json\""),
        "{printed}"
    );
    let admin = format!("admin = \"0.0.0.0:{}\"", port("admin"));
    assert!(
        printed.lines().any(|l| l == admin),
        "{admin} not in:\n{printed}"
    );
    // As the README says: the shutdown delay outlasts the readiness probe's time to see
    // the 503 (else the pod stops accepting while still in the Service), and the grace
    // period outlasts the delay and the drain (else the kubelet kills mid-drain).
    let readiness = &container["readinessProbe"];
    let to_fail = readiness["periodSeconds"].as_u64().unwrap()
        * readiness["failureThreshold"].as_u64().unwrap();
    let delay = seconds(&printed, "shutdown-delay");
    assert!(
        delay > to_fail,
        "--shutdown-delay {delay} s is not longer than the readiness probe's {to_fail} s"
    );
    let drain = seconds(&printed, "shutdown-timeout");
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        grace > delay + drain,
        "terminationGracePeriodSeconds {grace} does not outlast {delay} s + {drain} s"
    );
    let readme = read("README.md");
    assert!(
        readme.contains(&format!(
            "{} s × {}, and `--shutdown-delay {delay}s`",
            readiness["periodSeconds"], readiness["failureThreshold"]
        )),
        "the README's Kubernetes numbers are not the manifest's"
    );
}

/// A duration setting of a printed configuration, in whole seconds (`"8s"`).
fn seconds(printed: &str, key: &str) -> u64 {
    let line = printed
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"));
    line.trim_matches('"')
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{key} = {line}: not whole seconds"))
}

/// The Dockerfile's instructions, continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

fn json_words(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an exec-form array: {text}: {e}"))
}

#[test]
fn the_dockerfile_builds_as_the_readme_says_runs_unprivileged_and_its_command_is_accepted() {
    let text = read("deploy/Dockerfile");
    let steps = instructions(&text);
    let stages: Vec<usize> = (0..steps.len()).filter(|&i| steps[i].0 == "FROM").collect();
    assert!(stages.len() >= 2, "a multi-stage build");
    let (build, last) = (
        &steps[stages[0]..stages[1]],
        &steps[*stages.last().unwrap()..],
    );
    assert!(build[0].1.ends_with(" AS build"), "{:?}", build[0]);
    // The build step is the README's build command, word for word.
    let readme = read("README.md");
    let run = build
        .iter()
        .find(|(op, rest)| op == "RUN" && rest.starts_with("cargo build"))
        .expect("a cargo build step");
    assert_eq!(run.1, "cargo build --release -p reverb");
    assert!(
        readme.contains(&format!("\n{}\n", run.1)),
        "the README builds otherwise"
    );
    let ci = read("scripts/test-all.sh");
    assert!(
        ci.contains(&format!("\n{}\n", run.1)),
        "CI builds otherwise"
    );
    let get = |op: &str| {
        last.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, rest)| rest.clone())
            .collect::<Vec<_>>()
    };
    assert!(get("COPY")
        .iter()
        .any(|c| c.starts_with("--from=build /src/target/release/reverb ")));
    let user = get("USER").pop().expect("a USER in the final stage");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "USER {user}"
    );
    let exposed = get("EXPOSE").join(" ");
    let healthcheck = get("HEALTHCHECK").pop().expect("a HEALTHCHECK");
    assert!(healthcheck.contains("/healthz"), "{healthcheck}");
    // Its command: the entry point and the default arguments together.
    let mut args = json_words(&get("ENTRYPOINT").pop().expect("an ENTRYPOINT"));
    assert_eq!(args.remove(0), "reverb");
    args.extend(json_words(&get("CMD").pop().expect("a CMD")));
    let printed = print_config(&args, &[]);
    let listen = args[args.iter().position(|a| a == "--listen").unwrap() + 1].clone();
    let echo_port = listen.rsplit(':').next().unwrap();
    assert!(
        listen.starts_with("0.0.0.0:"),
        "a container listens on every interface"
    );
    assert!(
        printed.contains(&format!("listen = [\"{listen}\"]")),
        "{printed}"
    );
    assert!(
        exposed.contains(&format!("{echo_port}/tcp")),
        "EXPOSE {exposed}"
    );
    let admin = args[args.iter().position(|a| a == "--admin").expect("--admin") + 1].clone();
    let admin_port = admin.rsplit(':').next().unwrap();
    assert!(
        exposed.contains(&format!("{admin_port}/tcp")),
        "EXPOSE {exposed}"
    );
    let probe = json_words(healthcheck.split_once("CMD ").expect("CMD form").1);
    assert!(
        probe[2].contains(&format!("/dev/tcp/127.0.0.1/{admin_port}")),
        "{probe:?}"
    );
    // The health check itself, as the image runs it, against a real admin endpoint.
    let server = Server::start(&["--admin", "127.0.0.1:0"]);
    let addr = admin_addr(&server);
    let probe: Vec<String> = probe
        .iter()
        .map(|w| {
            w.replace(
                &format!("127.0.0.1/{admin_port}"),
                &format!("127.0.0.1/{}", addr.port()),
            )
        })
        .collect();
    let status = Command::new(&probe[0]).args(&probe[1..]).status().unwrap();
    assert!(
        status.success(),
        "the HEALTHCHECK failed against a healthy server"
    );
}
