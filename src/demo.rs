//! `serve --demo`: on an empty database, a demo hospital group that a newcomer can click through —
//! two hospitals (Riyadh and Jeddah), departments, physicians, staff and patients with Arabic and English
//! names spread over the last four weeks, one login per role and an integration API key. Everything goes
//! through the modules' own services, so the data obeys the same rules as real data. Later modules extend
//! `seed` with their own demo data.

use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::apps::accounts;
use crate::apps::organizations::service::{
    departments, employees, hospitals, patients, physicians,
};
use crate::platform::auth::load_principal;
use crate::platform::clock::{Clock, TestClock};
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;

const MALE: &[(&str, &str)] = &[
    ("Ahmed", "أحمد"),
    ("Mohammed", "محمد"),
    ("Abdullah", "عبدالله"),
    ("Khalid", "خالد"),
    ("Faisal", "فيصل"),
    ("Omar", "عمر"),
    ("Saud", "سعود"),
    ("Turki", "تركي"),
    ("Fahad", "فهد"),
    ("Sultan", "سلطان"),
];
const FEMALE: &[(&str, &str)] = &[
    ("Fatimah", "فاطمة"),
    ("Noura", "نورة"),
    ("Sara", "سارة"),
    ("Reem", "ريم"),
    ("Aisha", "عائشة"),
    ("Maha", "مها"),
    ("Hessa", "حصة"),
    ("Lama", "لمى"),
    ("Amal", "أمل"),
    ("Jawaher", "جواهر"),
];
const FAMILY: &[(&str, &str)] = &[
    ("Al-Otaibi", "العتيبي"),
    ("Al-Qahtani", "القحطاني"),
    ("Al-Ghamdi", "الغامدي"),
    ("Al-Zahrani", "الزهراني"),
    ("Al-Shehri", "الشهري"),
    ("Al-Harbi", "الحربي"),
    ("Al-Dosari", "الدوسري"),
    ("Al-Mutairi", "المطيري"),
    ("Al-Anazi", "العنزي"),
    ("Al-Subaie", "السبيعي"),
];

/// (code, name_en, name_ar, category, parent code)
const DEPARTMENTS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("ER", "Emergency", "الطوارئ", "EMERGENCY", None),
    ("IM", "Internal Medicine", "الباطنية", "CLINICAL", None),
    ("CARD", "Cardiology", "أمراض القلب", "CLINICAL", Some("IM")),
    (
        "ENDO",
        "Endocrinology",
        "الغدد الصماء",
        "CLINICAL",
        Some("IM"),
    ),
    ("PED", "Pediatrics", "طب الأطفال", "CLINICAL", None),
    (
        "OBGYN",
        "Obstetrics & Gynecology",
        "النساء والولادة",
        "CLINICAL",
        None,
    ),
    ("RAD", "Radiology", "الأشعة", "DIAGNOSTIC", None),
    ("LAB", "Laboratory", "المختبر", "DIAGNOSTIC", None),
    ("NUR", "Nursing", "التمريض", "NURSING", None),
    (
        "PR",
        "Patient Relations",
        "علاقات المرضى",
        "ADMINISTRATIVE",
        None,
    ),
];

/// (specialty, department code)
const SPECIALTIES: &[(&str, &str)] = &[
    ("Emergency Medicine", "ER"),
    ("Cardiology", "CARD"),
    ("Endocrinology", "ENDO"),
    ("Pediatrics", "PED"),
    ("Obstetrics", "OBGYN"),
    ("Radiology", "RAD"),
];

fn parse<T: DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    serde_json::from_value(v).context("building demo input")
}

fn app_err(e: crate::platform::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}: {}", e.body())
}

/// The logins a newcomer needs, printed once.
pub struct DemoLogins {
    pub password: String,
    pub users: Vec<(String, String)>,
    pub api_key: String,
}

/// Seeds the demo data when the database has no hospital yet; returns what to print, or None.
///
/// # Errors
/// Any failure; nothing is half-seeded in a way that blocks a retry (an existing hospital stops the seed).
pub async fn seed_if_empty(state: &AppState) -> anyhow::Result<Option<DemoLogins>> {
    use sea_orm::{ConnectionTrait, Statement};
    let row = state
        .db
        .query_one_raw(Statement::from_string(
            state.db.get_database_backend(),
            "SELECT COUNT(*) FROM hospitals",
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    if n > 0 {
        return Ok(None);
    }
    seed(state).await.map(Some)
}

async fn seed(live: &AppState) -> anyhow::Result<DemoLogins> {
    // History: the seed's own clock starts four weeks ago and moves forward as records are created.
    let now = live.clock.now();
    let clock = TestClock::new(now - Duration::days(28));
    let state = AppState {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    let password = format!("Demo-{suffix}-2026");

    let (admin_id, _) = accounts::create_admin(&state, "px.admin@demo.px360.sa", &password)
        .await
        .map_err(app_err)?;
    let admin: Principal = load_principal(&state.db, admin_id, None, None)
        .await
        .map_err(app_err)?;
    let mut users = vec![("PX_ADMIN".to_string(), "px.admin@demo.px360.sa".to_string())];

    let mut first_hospital: Option<(Uuid, std::collections::HashMap<String, Uuid>, Vec<Uuid>)> =
        None;
    let mut patient_no = 0u32;
    for (code, name_en, name_ar, city) in [
        (
            "RUH",
            "Al Noor Hospital — Riyadh",
            "مستشفى النور — الرياض",
            "Riyadh",
        ),
        (
            "JED",
            "Al Shifa Hospital — Jeddah",
            "مستشفى الشفاء — جدة",
            "Jeddah",
        ),
    ] {
        let h = hospitals::create(&state, &admin, parse(json!({"code": code, "name_en": name_en, "name_ar": name_ar, "city": city, "active": true}))?)
            .await
            .map_err(app_err)?;
        let mut depts = std::collections::HashMap::new();
        for (dcode, en, ar, cat, parent) in DEPARTMENTS {
            let parent_id = parent.and_then(|p| depts.get(p).copied());
            let d = departments::create(&state, &admin, parse(json!({
                "hospital": h.id, "parent": parent_id, "code": dcode, "name_en": en, "name_ar": ar, "category": cat, "active": true
            }))?)
            .await
            .map_err(app_err)?;
            depts.insert((*dcode).to_string(), d.id);
        }
        let mut physician_ids = vec![];
        for (i, (spec, dcode)) in SPECIALTIES.iter().enumerate() {
            let (fe, fa) = if i % 2 == 0 {
                MALE[(i * 3) % MALE.len()]
            } else {
                FEMALE[(i * 3) % FEMALE.len()]
            };
            let (le, la) = FAMILY[(i * 7 + code.len()) % FAMILY.len()];
            let p = physicians::create(&state, &admin, parse(json!({
                "hospital": h.id, "department": depts.get(*dcode), "license_number": format!("{code}-PHY-{:03}", i + 1),
                "first_name_en": fe, "last_name_en": le, "first_name_ar": fa, "last_name_ar": la,
                "specialty": spec, "phone": format!("+96655{:07}", 1000 + i), "email": format!("dr.{}.{}@demo.px360.sa", fe.to_lowercase(), code.to_lowercase()), "active": true
            }))?)
            .await
            .map_err(app_err)?;
            physician_ids.push(p.id);
        }
        for (i, (title, dcode)) in [
            ("Patient Relations Officer", "PR"),
            ("Head Nurse", "NUR"),
            ("Registration Clerk", "ER"),
            ("Lab Technician", "LAB"),
        ]
        .iter()
        .enumerate()
        {
            let (fe, fa) = FEMALE[(i * 2 + 1) % FEMALE.len()];
            let (le, la) = FAMILY[(i + 3) % FAMILY.len()];
            employees::create(&state, &admin, parse(json!({
                "hospital": h.id, "department": depts.get(*dcode), "employee_number": format!("{code}-E{:04}", i + 1),
                "first_name_en": fe, "last_name_en": le, "first_name_ar": fa, "last_name_ar": la, "job_title": title
            }))?)
            .await
            .map_err(app_err)?;
        }
        for i in 0..60u32 {
            patient_no += 1;
            let female = i % 2 == 1;
            let pool = if female { FEMALE } else { MALE };
            let (fe, fa) = pool[(i as usize * 7) % pool.len()];
            let (le, la) = FAMILY[(i as usize * 3 + 1) % FAMILY.len()];
            let lang = if i % 4 == 0 { "en" } else { "ar" };
            patients::create(&state, &admin, parse(json!({
                "hospital": h.id, "mrn": format!("{code}{:06}", 100_000 + patient_no),
                "first_name_en": fe, "last_name_en": le, "first_name_ar": fa, "last_name_ar": la,
                "phone": format!("+96650{:07}", 2_000_000 + patient_no), "email": if i % 3 == 0 { Value::from(format!("{}.{}{}@example.sa", fe.to_lowercase(), le.to_lowercase().replace('-', ""), patient_no)) } else { Value::Null },
                "preferred_language": lang, "gender": if female { "FEMALE" } else { "MALE" },
                "date_of_birth": format!("{}-{:02}-{:02}", 1950 + (i * 7) % 60, 1 + i % 12, 1 + i % 28),
                "national_id": format!("{}{:09}", if i % 5 == 0 { 2 } else { 1 }, 100_000_000 + patient_no * 7919),
                "opt_out": i % 17 == 0
            }))?)
            .await
            .map_err(app_err)?;
            // Spread registrations over the four weeks.
            clock.advance(Duration::minutes(330));
        }
        if first_hospital.is_none() {
            first_hospital = Some((h.id, depts, physician_ids));
        }
    }

    let (ruh, depts, physician_ids) = first_hospital.context("no demo hospital")?;
    let roles = [
        ("HOSPITAL_ADMIN", "hospital.admin", None),
        ("DEPARTMENT_MANAGER", "cardiology.manager", Some("CARD")),
        ("PX_COORDINATOR", "px.coordinator", None),
        ("PHYSICIAN", "physician", None),
        ("NURSE", "nurse", Some("CARD")),
        ("STAFF", "staff", Some("ER")),
        ("VIEWER", "viewer", None),
    ];
    for (role, local, dept) in roles {
        let email = format!("{local}@demo.px360.sa");
        let created = accounts::service::create_user(&state, &admin, parse(json!({
            "email": email, "password": password, "preferred_language": if role == "NURSE" { "ar" } else { "en" },
            "first_name_en": local.split('.').next().unwrap_or(local), "last_name_en": "Demo",
            "first_name_ar": "تجربة", "last_name_ar": "النظام",
            "roles": [{"role": role, "hospital": ruh, "department": dept.and_then(|d| depts.get(d))}]
        }))?)
        .await
        .map_err(app_err)?;
        if role == "PHYSICIAN"
            && let Some(p) = physician_ids.get(1)
        {
            physicians::update(
                &state,
                &admin,
                *p,
                parse(json!({"user": created.user.id}))?,
                crate::apps::organizations::service::Mode::Patch,
            )
            .await
            .map_err(app_err)?;
        }
        users.push((role.to_string(), email));
    }
    let key = accounts::service::create_api_key(
        &state,
        &admin,
        parse(json!({"name": "HIS interface (demo)", "hospital": ruh, "role": "HOSPITAL_ADMIN"}))?,
    )
    .await
    .map_err(app_err)?;
    for (n, code) in ["RUH", "JED"].into_iter().enumerate() {
        let first_patient = u32::try_from(n).unwrap_or(0) * 60 + 1;
        let h = crate::apps::organizations::hospital_by_code(&state.db, code)
            .await
            .map_err(app_err)?
            .context("demo hospital")?;
        let surveys = crate::apps::surveys::demo::templates_for(&state, &admin, h).await?;
        journeys_demo(&state, &clock, &admin, code, first_patient, now, &surveys).await?;
        clock.set(now);
        crate::apps::surveys::demo::answer(&state, &clock, h).await?;
    }
    crate::apps::notifications::demo::seed(&state, &clock, now).await?;
    actions_demo(live, &admin, ruh, &depts, now).await?;
    Ok(DemoLogins {
        password,
        users,
        api_key: key.key.unwrap_or_default(),
    })
}

/// (code, name_en, name_ar, trigger) per journey type.
const OPD: &[(&str, &str, &str, &str)] = &[
    (
        "OPD_MD_CONSULT",
        "Physician consultation",
        "استشارة الطبيب",
        "OPD_VISIT_COMPLETED",
    ),
    ("LAB", "Laboratory", "المختبر", "LAB_ORDER_COMPLETED"),
    (
        "RADIOLOGY",
        "Radiology",
        "الأشعة",
        "RADIOLOGY_REPORT_FINALIZED",
    ),
    ("PHARMACY", "Pharmacy", "الصيدلية", "PHARMACY_DISPENSED"),
];
const INPATIENT: &[(&str, &str, &str, &str)] = &[
    ("ADMISSION", "Admission", "الدخول", "ADMITTED"),
    ("WARD_STAY", "Ward stay", "الإقامة في الجناح", "TRANSFERRED"),
    ("DISCHARGE", "Discharge", "الخروج", "DISCHARGED"),
];
const EMS: &[(&str, &str, &str, &str)] = &[
    (
        "DISPATCH",
        "Ambulance dispatch",
        "إرسال الإسعاف",
        "EMS_DISPATCHED",
    ),
    (
        "ER_ARRIVAL",
        "Arrival at ER",
        "الوصول إلى الطوارئ",
        "EMS_ARRIVED",
    ),
    (
        "HANDOVER",
        "Handover to ER team",
        "التسليم لفريق الطوارئ",
        "EMS_HANDOVER",
    ),
];

/// Journey templates, event mappings and a few weeks of encounters for one hospital, driven by real
/// inbound events (JSON and HL7 v2) through the intake and the processing job, on the seed's clock.
async fn journeys_demo(
    state: &AppState,
    clock: &TestClock,
    admin: &Principal,
    code: &str,
    first_patient: u32,
    now: chrono::DateTime<chrono::Utc>,
    surveys: &std::collections::HashMap<String, Uuid>,
) -> anyhow::Result<()> {
    use crate::apps::integrations::service::{admin as integ, channels, intake};
    use crate::apps::journeys::service::{stages, templates};
    clock.set(now - Duration::days(21));
    let h = crate::apps::organizations::hospital_by_code(&state.db, code)
        .await
        .map_err(app_err)?
        .context("demo hospital")?;
    for (jt, name_en, name_ar, list) in [
        ("OPD", "Outpatient visit", "زيارة العيادات الخارجية", OPD),
        ("INPATIENT", "Inpatient stay", "التنويم", INPATIENT),
        ("EMS", "Emergency medical services", "الإسعاف", EMS),
    ] {
        let t = templates::create(
            state,
            admin,
            parse(json!({"hospital": h, "journey_type": jt,
            "name_en": name_en, "name_ar": name_ar, "active": true}))?,
        )
        .await
        .map_err(app_err)?;
        for (i, (scode, en, ar, trigger)) in list.iter().enumerate() {
            stages::create(state, admin, parse(json!({"journey_template": t.id, "code": scode, "name_en": en,
                "name_ar": ar, "order": (i + 1) * 10, "trigger_event_code": trigger, "auto_send_survey": true,
                "survey_delay_hours": if jt == "INPATIENT" { 24 } else { 2 }, "requires_physician": i == 0,
                "survey_template": surveys.get(*scode)}))?)
            .await
            .map_err(app_err)?;
        }
    }
    for (source, external, internal, create) in [
        (
            "his",
            "OPD_VISIT_COMPLETED",
            "OPD_VISIT_COMPLETED",
            Some("OPD"),
        ),
        ("his", "EMS_DISPATCHED", "EMS_DISPATCHED", Some("EMS")),
        ("HIS", "ADT^A01", "ADMITTED", Some("INPATIENT")),
        ("HIS", "ADT^A02", "TRANSFERRED", None),
        ("HIS", "ADT^A03", "DISCHARGED", None),
        ("HIS", "ADT^A04", "OPD_VISIT_COMPLETED", Some("OPD")),
    ] {
        integ::create_mapping(
            state,
            admin,
            parse(json!({"hospital": h, "source_system": source,
            "external_code": external, "event_code": internal, "journey_type": create,
            "create_instance": create.is_some()}))?,
        )
        .await
        .map_err(app_err)?;
    }
    for (source, name, protocol) in [
        ("his", "HIS (JSON)", "JSON"),
        ("HIS", "HIS ADT feed", "HL7V2"),
    ] {
        integ::create_config(
            state,
            admin,
            parse(json!({"hospital": h, "source_system": source,
            "name": name, "protocol": protocol}))?,
        )
        .await
        .map_err(app_err)?;
    }
    // Each event is processed before the next is sent, so an encounter's events apply in order (the
    // worker runs due jobs concurrently, in no guaranteed order among jobs due at the same instant).
    let registry = std::sync::Arc::new(crate::startup::job_registry(state)?);
    let worker = crate::startup::worker(state, registry);
    let depts = ["CARD", "ENDO", "PED", "IM", "OBGYN"];
    let mut msg = 0u32;
    for i in 0..40u32 {
        let mrn = format!("{code}{:06}", 100_000 + first_patient + (i * 7) % 60);
        let license = format!("{code}-PHY-{:03}", 1 + i % 6);
        let dept = depts[(i % 5) as usize];
        let at = |minutes: i64| (clock.now() + Duration::minutes(minutes)).to_rfc3339();
        match i % 4 {
            // Outpatient visits as JSON events, some stopping before the pharmacy.
            0 | 1 => {
                let enc = format!("{code}-OPD-{:04}", 1000 + i);
                let mut steps = vec!["OPD_VISIT_COMPLETED", "LAB_ORDER_COMPLETED"];
                if i % 3 != 0 {
                    steps.push("RADIOLOGY_REPORT_FINALIZED");
                }
                if i % 5 != 0 {
                    steps.push("PHARMACY_DISPENSED");
                }
                for (k, ev) in steps.into_iter().enumerate() {
                    msg += 1;
                    let body = json!({"source_system": "his", "hospital_code": code, "event_code": ev, "encounter_id": enc,
                        "patient_identifier": mrn, "external_id": format!("{code}-M{msg:06}"),
                        "occurred_at": at(i64::try_from(k).unwrap_or(0) * 40),
                        "payload_json": {"physician_license": license, "department_code": dept}});
                    intake::accept_json(state, admin, parse(body)?)
                        .await
                        .map_err(app_err)?;
                    worker.drain().await?;
                }
            }
            // Inpatient stays as HL7 v2 ADT messages.
            2 => {
                let visit = format!("{code}-IP-{:04}", 2000 + i);
                for (k, trig) in ["A01", "A02", "A03"].iter().enumerate() {
                    msg += 1;
                    let t = (clock.now() + Duration::hours(i64::try_from(k).unwrap_or(0) * 20))
                        .format("%Y%m%d%H%M%S+0000");
                    let raw = format!(
                        "MSH|^~\\&|HIS|{code}|PX360|{code}|{t}||ADT^{trig}|{code}-H{msg:06}|P|2.5\r\
                         EVN|{trig}|{t}\rPID|1||{mrn}^^^{code}^MR\r\
                         PV1|1|I|{dept}^^^{code}||||{license}|||{dept}|||||||||{visit}\r"
                    );
                    channels::accept_hl7(state, channels::Hl7Caller::Api(admin), &raw, Some(code))
                        .await
                        .map_err(app_err)?;
                    worker.drain().await?;
                }
            }
            // Ambulance runs; every fourth names an encounter that has no journey (IGNORED).
            _ => {
                let enc = format!("{code}-EMS-{:04}", 3000 + i);
                for (k, ev) in ["EMS_DISPATCHED", "EMS_ARRIVED", "EMS_HANDOVER"]
                    .iter()
                    .enumerate()
                {
                    msg += 1;
                    let target = if i % 8 == 7 && k > 0 {
                        format!("{enc}-X")
                    } else {
                        enc.clone()
                    };
                    let body = json!({"source_system": "his", "hospital_code": code, "event_code": ev, "encounter_id": target,
                        "patient_identifier": mrn, "external_id": format!("{code}-M{msg:06}"),
                        "occurred_at": at(i64::try_from(k).unwrap_or(0) * 25)});
                    intake::accept_json(state, admin, parse(body)?)
                        .await
                        .map_err(app_err)?;
                    worker.drain().await?;
                }
            }
        }
        // A garbled interface message now and then: stored FAILED with its error.
        if i % 13 == 5 {
            channels::accept_hl7(
                state,
                channels::Hl7Caller::Api(admin),
                "MSH|^~\\&|HIS|garbled",
                Some(code),
            )
            .await
            .map_err(app_err)?;
            // The first one is sent back for processing and, still unreadable, retries (in the next
            // rounds' drains) until it is DEAD, so the events console shows one.
            if i == 5 {
                let q = crate::platform::pagination::ListQuery::parse(
                    "/integrations/events/",
                    &format!("status=FAILED&hospital={h}&page_size=1"),
                )
                .map_err(app_err)?;
                let failed = integ::list_events(state, admin, &q)
                    .await
                    .map_err(app_err)?;
                if let Some(ev) = failed.results.first() {
                    integ::reprocess(state, admin, ev.id)
                        .await
                        .map_err(app_err)?;
                }
            }
        }
        worker.drain().await?;
        clock.advance(Duration::hours(12));
    }
    // One stage in progress and one skipped by hand, so journey pages show every stage status.
    let q = crate::platform::pagination::ListQuery::parse(
        "/journeys/instances/",
        &format!("status=ACTIVE&hospital={h}&journey_type=OPD&page_size=2"),
    )
    .map_err(app_err)?;
    let open = crate::apps::journeys::service::instances::list(state, admin, &q)
        .await
        .map_err(app_err)?;
    for (k, inst) in open.results.iter().enumerate() {
        let Some(st) = inst.stages.iter().find(|s| s.status == "PENDING") else {
            continue;
        };
        let body = if k == 0 {
            json!({"status": "IN_PROGRESS"})
        } else {
            json!({"status": "SKIPPED", "note": "Imaging done at another facility · أُجري التصوير في منشأة أخرى"})
        };
        crate::apps::journeys::service::instances::update_stage(state, admin, st.id, parse(body)?)
            .await
            .map_err(app_err)?;
    }
    Ok(())
}

impl DemoLogins {
    pub fn print(&self, base: &str) {
        println!(
            "\n  PX360 demo data is ready. Open {base}/ and sign in (the password is shown only now):\n"
        );
        for (role, email) in &self.users {
            println!("    {role:<20} {email}");
        }
        println!("\n    password for every demo login: {}", self.password);
        println!("    integration API key (Riyadh):   {}\n", self.api_key);
    }
}

/// (English, Arabic) titles of demo actions.
const ACTION_TITLES: &[(&str, &str)] = &[
    (
        "Reduce waiting time at the cardiology clinic",
        "تقليل وقت الانتظار في عيادة القلب",
    ),
    (
        "Explain discharge medication to patients",
        "شرح أدوية الخروج للمرضى",
    ),
    (
        "Fix the broken call bell in ward 3",
        "إصلاح جرس النداء المعطل في الجناح ٣",
    ),
    (
        "Follow up on rude reception behaviour",
        "متابعة سلوك الاستقبال غير اللائق",
    ),
    (
        "Improve cleanliness of ER waiting area",
        "تحسين نظافة منطقة انتظار الطوارئ",
    ),
    (
        "Shorten pharmacy queue at peak hours",
        "تقليص طابور الصيدلية في أوقات الذروة",
    ),
    (
        "Clarify lab result turnaround times",
        "توضيح مواعيد نتائج المختبر",
    ),
    (
        "Train nurses on pain reassessment",
        "تدريب الممرضين على إعادة تقييم الألم",
    ),
];

/// A few weeks of PX actions in every status for Riyadh: SLA configs, routing rules, actions opened
/// by hand on the seed's clock and moved along their workflow (comments, waiting, evidence, approval,
/// rejection, cancellation), then the SLA sweep at the present, which reminds and escalates.
async fn actions_demo(
    live: &AppState,
    admin: &Principal,
    ruh: Uuid,
    depts: &std::collections::HashMap<String, Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    use crate::apps::actions::service::{actions, attachments, config};
    let clock = TestClock::new(now - Duration::days(21));
    let state = AppState {
        clock: Arc::new(clock.clone()),
        ..live.clone()
    };
    for (priority, hours, reminder, mode) in [
        ("CRITICAL", 8, 2, "BUSINESS"),
        ("HIGH", 16, 4, "BUSINESS"),
        ("MEDIUM", 40, 8, "BUSINESS"),
        ("LOW", 120, 24, "CALENDAR"),
    ] {
        config::sla_configs::create(&state, admin, parse(json!({
            "hospital": ruh, "priority": priority, "hours": hours, "reminder_hours_before": reminder,
            "escalation_interval_hours": 8, "hour_mode": mode
        }))?)
        .await
        .map_err(app_err)?;
    }
    config::routing_rules::create(&state, admin, parse(json!({
        "hospital": ruh, "name": "Complaints to the PX team", "order": 10, "source_type": "COMPLAINT", "target": "PX_TEAM"
    }))?)
    .await
    .map_err(app_err)?;
    config::routing_rules::create(&state, admin, parse(json!({
        "hospital": ruh, "name": "Cardiology surveys to its manager", "order": 20, "source_type": "SURVEY",
        "department": depts.get("CARD"), "target": "DEPARTMENT_MANAGER"
    }))?)
    .await
    .map_err(app_err)?;
    let dept_codes = ["CARD", "ER", "LAB", "PR", "PED", "IM"];
    let priorities = ["HIGH", "MEDIUM", "CRITICAL", "LOW", "MEDIUM"];
    let categories = [
        "WAITING_TIME",
        "COMMUNICATION",
        "FACILITIES",
        "STAFF_BEHAVIOUR",
        "PROCESS",
        "CLINICAL_CARE",
    ];
    // Final states, in turn: every status appears several times.
    let plan = [
        "OPEN",
        "IN_PROGRESS",
        "WAITING",
        "PENDING_APPROVAL",
        "CLOSED",
        "CANCELLED",
        "IN_PROGRESS",
        "OPEN",
        "CLOSED",
        "PENDING_APPROVAL",
        "IN_PROGRESS",
        "OPEN",
    ];
    for i in 0..36usize {
        let (en, ar) = ACTION_TITLES[i % ACTION_TITLES.len()];
        let title = if i % 2 == 0 { en } else { ar };
        let target = plan[i % plan.len()];
        let created = actions::create(&state, admin, parse(json!({
            "hospital": ruh, "department": depts.get(dept_codes[i % dept_codes.len()]),
            "title": title, "description": format!("{en}.\n{ar}."),
            "priority": priorities[i % priorities.len()], "severity": priorities[(i + 1) % priorities.len()],
            "category": categories[i % categories.len()],
        }))?)
        .await
        .map_err(app_err)?;
        let id = created.id;
        let step = async |status: &str| {
            clock.advance(Duration::hours(3));
            actions::transition(&state, admin, id, parse(json!({"status": status}))?)
                .await
                .map_err(app_err)
                .map(|_| ())
        };
        match target {
            "OPEN" => {}
            "CANCELLED" => step("CANCELLED").await?,
            _ => {
                step("IN_PROGRESS").await?;
                actions::comment(
                    &state,
                    admin,
                    id,
                    parse(json!({"message": if i % 2 == 0 {
                        "Met the team; root cause is staffing at peak hours."
                    } else {
                        "تم الاجتماع مع الفريق؛ السبب الرئيسي نقص الموظفين في أوقات الذروة."
                    }}))?,
                )
                .await
                .map_err(app_err)?;
                if target == "WAITING" {
                    step("WAITING").await?;
                }
                if matches!(target, "PENDING_APPROVAL" | "CLOSED") {
                    attachments::upload(
                        &state,
                        admin,
                        id,
                        attachments::Upload {
                            file_name: "action-plan.pdf".into(),
                            content_type: Some("application/pdf".into()),
                            bytes: b"%PDF-1.4\n% demo evidence\n".to_vec(),
                            is_evidence: true,
                            note: "Action plan signed by the unit head".into(),
                        },
                    )
                    .await
                    .map_err(app_err)?;
                    step("PENDING_APPROVAL").await?;
                    if i % 4 == 0 {
                        actions::reject(
                            &state,
                            admin,
                            id,
                            parse(json!({"reason": "Add the new rota to the evidence."}))?,
                        )
                        .await
                        .map_err(app_err)?;
                        step("PENDING_APPROVAL").await?;
                    }
                    if target == "CLOSED" {
                        clock.advance(Duration::hours(2));
                        actions::approve(
                            &state,
                            admin,
                            id,
                            parse(json!({"note": "Verified on the ward."}))?,
                        )
                        .await
                        .map_err(app_err)?;
                    }
                }
            }
        }
        clock.advance(Duration::hours(11));
    }
    // The scheduler's sweep, three days ago and now: reminders and escalations of overdue work.
    clock.set(now - Duration::days(3));
    crate::apps::actions::sweep(&state.db, &clock)
        .await
        .map_err(app_err)?;
    crate::apps::actions::sweep(&live.db, live.clock.as_ref())
        .await
        .map_err(app_err)?;
    Ok(())
}
