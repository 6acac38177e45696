//! `px360-bench`: end-to-end throughput of event intake and processing over HTTP.
//!
//! It seeds (through the public API) a hospital, a patient, an active OPD template with four stages,
//! `--encounters` journey instances and an integration API key; fires `--events` JSON events with
//! `--concurrency` requests in flight (round r sends the r-th stage's trigger to every encounter, so
//! every stage of every journey completes once); waits until every event is PROCESSED or IGNORED; and
//! prints accepted/s, processed/s end to end and intake latency percentiles.
//!
//! Against a running server: `px360-bench --base http://127.0.0.1:8000 --email … --password …`.
//! Or let it start one: `px360-bench --spawn target/release/px360 --database-url postgres://…`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(name = "px360-bench", about = "PX360 intake and processing benchmark")]
struct Args {
    /// Base URL of a running server (ignored with --spawn).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    base: String,
    /// Start this px360 binary (create-admin, then serve) instead of using a running server.
    #[arg(long)]
    spawn: Option<String>,
    /// DATABASE_URL for the spawned server (a fresh database or schema is best).
    #[arg(long, env = "BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Worker concurrency of the spawned server.
    #[arg(long, default_value_t = 16)]
    worker_concurrency: usize,
    /// Database pool size of the spawned server.
    #[arg(long, default_value_t = 32)]
    db_connections: usize,
    #[arg(long, default_value = "bench.admin@px360.invalid")]
    email: String,
    #[arg(
        long,
        env = "BENCH_PASSWORD",
        default_value = "Bench-Admin-Password-2026"
    )]
    password: String,
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    #[arg(long, default_value_t = 5_000)]
    encounters: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

const STAGES: &[(&str, &str)] = &[
    ("OPD_MD_CONSULT", "OPD_VISIT_COMPLETED"),
    ("LAB", "LAB_ORDER_COMPLETED"),
    ("RADIOLOGY", "RADIOLOGY_REPORT_FINALIZED"),
    ("PHARMACY", "PHARMACY_DISPENSED"),
];

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path} → {status}: {v}");
        }
        Ok(v)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("GET {path} → {status}: {v}");
        }
        Ok(v)
    }
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .context("response without an id")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/health/")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{base} did not become healthy")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?;

    let mut child = None;
    let base = if let Some(bin) = &args.spawn {
        let url = args
            .database_url
            .clone()
            .context("--spawn needs --database-url")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bind = format!("127.0.0.1:{port}");
        let envs = [
            ("DATABASE_URL", url.clone()),
            ("PX360_BIND", bind.clone()),
            ("PX360_LOG", "warn".to_string()),
            (
                "PX360_WORKER_CONCURRENCY",
                args.worker_concurrency.to_string(),
            ),
            ("PX360_DB_MAX_CONNECTIONS", args.db_connections.to_string()),
            ("PX360_WORKER_POLL_MS", "10".to_string()),
        ];
        let out = tokio::process::Command::new(bin)
            .args([
                "create-admin",
                "--email",
                &args.email,
                "--password",
                &args.password,
            ])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .context("running create-admin")?;
        if !out.status.success() {
            bail!(
                "create-admin failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child = Some(
            tokio::process::Command::new(bin)
                .arg("serve")
                .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting the server")?,
        );
        format!("http://{bind}")
    } else {
        args.base.trim_end_matches('/').to_string()
    };
    wait_healthy(&client, &base).await?;

    let login: Value = client
        .post(format!("{base}/api/auth/token/"))
        .json(&json!({"email": args.email, "password": args.password}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access"]
        .as_str()
        .context("login failed: pass --email and --password of a PX admin")?
        .to_string();
    let api = Arc::new(Api {
        client: client.clone(),
        base: base.clone(),
        token,
    });

    // ---- seed through the API
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let code = format!("BENCH-{suffix}");
    let hospital = id(&api
        .post(
            "/api/organizations/hospitals/",
            json!({"code": code, "name_en": "Bench hospital", "name_ar": "مستشفى القياس", "city": "Riyadh"}),
        )
        .await?)?;
    let patient = id(&api
        .post(
            "/api/organizations/patients/",
            json!({"hospital": hospital, "mrn": "BENCH-MRN-1", "first_name_en": "Bench", "first_name_ar": "قياس"}),
        )
        .await?)?;
    let template = id(&api
        .post(
            "/api/journeys/templates/",
            json!({"hospital": hospital, "journey_type": "OPD", "name_en": "OPD", "name_ar": "العيادات", "active": true}),
        )
        .await?)?;
    for (i, (c, trigger)) in STAGES.iter().enumerate() {
        api.post(
            "/api/journeys/stage-templates/",
            json!({"journey_template": template, "code": c, "name_en": c, "order": i + 1, "trigger_event_code": trigger}),
        )
        .await?;
    }
    let key = api
        .post(
            "/api/auth/api-keys/",
            json!({"name": "bench", "hospital": hospital, "role": "HOSPITAL_ADMIN"}),
        )
        .await?["key"]
        .as_str()
        .context("no key")?
        .to_string();
    let seeded = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let (api, next, template, patient) =
            (api.clone(), next.clone(), template.clone(), patient.clone());
        let n = args.encounters;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                api.post(
                    "/api/journeys/instances/",
                    json!({"journey_template": template, "patient": patient, "encounter_id": format!("B-{i}")}),
                )
                .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "seeded {} journeys in {:.1}s",
        args.encounters,
        seeded.elapsed().as_secs_f64()
    );

    // ---- fire
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let (client, next, key, base) = (client.clone(), next.clone(), key.clone(), base.clone());
        let (events, encounters) = (args.events, args.encounters);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut other = 0usize;
            loop {
                let j = next.fetch_add(1, Ordering::SeqCst);
                if j >= events {
                    return (lat, other);
                }
                let round = (j / encounters) % STAGES.len();
                let body = json!({
                    "source_system": "his", "event_code": STAGES[round].1,
                    "encounter_id": format!("B-{}", j % encounters), "patient_identifier": "BENCH-MRN-1",
                    "external_id": format!("bench-{j}"),
                    "payload_json": {"department_code": "NONE"}
                });
                let t0 = Instant::now();
                let r = client
                    .post(format!("{base}/api/integrations/events/"))
                    .header("X-API-Key", &key)
                    .json(&body)
                    .send()
                    .await;
                let ok = matches!(&r, Ok(r) if r.status() == 202);
                if let Ok(r) = r {
                    let _ = r.bytes().await;
                }
                if ok {
                    lat.push(t0.elapsed());
                } else {
                    other += 1;
                }
            }
        }));
    }
    let mut lat = vec![];
    let mut refused = 0;
    for t in tasks {
        let (l, o) = t.await?;
        lat.extend(l);
        refused += o;
    }
    let intake_secs = started.elapsed().as_secs_f64();
    // ---- wait for processing
    let open_path = format!(
        "/api/integrations/events/?hospital={hospital}&status=PENDING,PROCESSING,FAILED&page_size=1"
    );
    loop {
        let open = api.get(&open_path).await?["count"].as_u64().unwrap_or(0);
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total_secs = started.elapsed().as_secs_f64();
    let processed = api
        .get(&format!(
            "/api/integrations/events/?hospital={hospital}&status=PROCESSED&page_size=1"
        ))
        .await?["count"]
        .as_u64()
        .unwrap_or(0);
    let ignored = api
        .get(&format!(
            "/api/integrations/events/?hospital={hospital}&status=IGNORED&page_size=1"
        ))
        .await?["count"]
        .as_u64()
        .unwrap_or(0);
    lat.sort_unstable();
    let accepted = lat.len();
    println!("events sent        {}", args.events);
    println!("accepted (202)     {accepted}   other answers/errors {refused}");
    println!(
        "processed/ignored  {processed} / {ignored}   (every stage of every journey completes once when events = 4 × encounters)"
    );
    println!(
        "intake             {intake_secs:.2}s  → {:.0} accepted/s",
        accepted as f64 / intake_secs
    );
    println!(
        "end to end         {total_secs:.2}s  → {:.0} processed/s",
        (processed + ignored) as f64 / total_secs
    );
    println!(
        "intake latency     p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        percentile(&lat, 50.0).as_secs_f64() * 1000.0,
        percentile(&lat, 99.0).as_secs_f64() * 1000.0,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    if let Some(mut c) = child {
        let _ = c.kill().await;
    }
    Ok(())
}
