//! The web console over HTTP: cookie sessions, CSRF, forms, RBAC in pages, exports, imports, saved
//! filters and languages.

use px360::platform::clock::Clock;
use px360::platform::rbac::Role;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::factory::{self, exec};
use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "Console-Test-2026!";

/// A browser: a cookie jar and no automatic redirects.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub client: reqwest::Client,
    pub csrf: String,
}

fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[i + 25..];
    Some(rest[..rest.find('"')?].to_string())
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            client,
            csrf: String::new(),
        }
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let r = self.client.get(self.app.url(path)).send().await.unwrap();
        let s = r.status();
        let body = r.text().await.unwrap();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        (s, body)
    }

    /// A GET as htmx sends it (the server answers with a fragment).
    pub async fn get_htmx(&mut self, path: &str) -> String {
        let r = self
            .client
            .get(self.app.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    pub async fn get_bytes(
        &mut self,
        path: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self.client.get(self.app.url(path)).send().await.unwrap();
        let s = r.status();
        let h = r.headers().clone();
        (s, h, r.bytes().await.unwrap().to_vec())
    }

    /// A form POST carrying the page's CSRF token.
    pub async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let mut f: Vec<(&str, &str)> = form.to_vec();
        let token = self.csrf.clone();
        f.push(("csrf_token", &token));
        self.post_raw(path, &f).await
    }

    pub async fn post_raw(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let r = self
            .client
            .post(self.app.url(path))
            .form(form)
            .send()
            .await
            .unwrap();
        let s = r.status();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.text().await.unwrap();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        (s, body, loc)
    }

    pub async fn login(&mut self, email: &str) {
        let (s, _) = self.get("/login/").await;
        assert_eq!(s, StatusCode::OK);
        let (s, body, loc) = self
            .post(
                "/login/",
                &[("email", email), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(loc.as_deref(), Some("/"));
        let (s, _) = self.get("/").await;
        assert_eq!(s, StatusCode::OK);
    }
}

/// A user with a password, a role and a way to sign in.
pub async fn person(
    app: &TestApp,
    role: Role,
    hospital: Option<Uuid>,
    department: Option<Uuid>,
) -> (Uuid, String) {
    let (id, _) = factory::user(app, role, hospital, department).await;
    let hash = px360::apps::accounts::password::hash(PASSWORD).unwrap();
    exec(
        app,
        "UPDATE users SET password_hash = $1 WHERE id = $2",
        vec![hash.into(), id.into()],
    )
    .await;
    let db = app.db();
    let email: String = {
        use sea_orm::ConnectionTrait;
        db.query_one_raw(px360::platform::db::stmt(
            db.get_database_backend(),
            "SELECT email FROM users WHERE id = $1",
            vec![id.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
    };
    (id, email)
}

async fn admin(app: &TestApp) -> (Uuid, String) {
    person(app, Role::PxAdmin, None, None).await
}

#[tokio::test]
async fn signing_in_through_the_form_opens_the_console_and_is_audited() {
    let app = spawn_app().await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    let (s, _) = b.get("/organizations/patients/").await;
    assert_eq!(
        s,
        StatusCode::SEE_OTHER,
        "anonymous pages redirect to the login"
    );
    let (s, page) = b.get("/login/?next=/organizations/patients/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("lang=\"en\""));
    let (s, body, _) = b
        .post(
            "/login/",
            &[
                ("email", &email),
                ("password", "wrong-password"),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("data-testid=\"login-error\""));
    assert!(body.contains(&email), "the email is kept");
    let (s, _, loc) = b
        .post(
            "/login/",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/organizations/patients/"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/organizations/patients/"));
    let (s, home) = b.get("/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(home.contains("data-testid=\"stat-cards\""));
    let ok = app.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'login.succeeded' AND details LIKE '%\"ui\"%'").await;
    let failed = app.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed' AND details LIKE '%\"ui\"%'").await;
    assert_eq!((ok, failed), (1, 1));
}

#[tokio::test]
async fn an_open_redirect_through_next_is_refused() {
    let app = spawn_app().await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.get("/login/").await;
    let (_, _, loc) = b
        .post(
            "/login/",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(loc.as_deref(), Some("/"));
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_sign_out_ends_it() {
    let app = spawn_app().await;
    let (_, email) = admin(&app).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(app.url("/login/")).send().await.unwrap();
    let before = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("px360_session="))
        .unwrap();
    assert!(
        before.contains("HttpOnly") && before.contains("SameSite=Lax"),
        "{before}"
    );
    let cookie = before.split(';').next().unwrap().to_string();
    let html = r.text().await.unwrap();
    let token = csrf_of(&html).unwrap();
    let r = client
        .post(app.url("/login/"))
        .header("cookie", &cookie)
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("px360_session="))
        .expect("a new session cookie at sign-in");
    let new_cookie = after.split(';').next().unwrap().to_string();
    assert_ne!(cookie, new_cookie, "the session id is rotated at sign-in");
    // The old id opens nothing.
    let r = client
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(app.url("/"))
        .header("cookie", &new_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = csrf_of(&r.text().await.unwrap()).unwrap();
    let r = client
        .post(app.url("/logout/"))
        .header("cookie", &new_cookie)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(app.url("/"))
        .header("cookie", &new_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out");
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime() {
    let app = spawn_app().await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    app.clock.advance(chrono::Duration::hours(13));
    let (s, _) = b.get("/").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_form_post_without_a_valid_csrf_token_is_refused() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let hs = h.to_string();
    let fields = [
        ("hospital", hs.as_str()),
        ("code", "CARD"),
        ("name_en", "Cardiology"),
        ("name_ar", "القلب"),
        ("category", "CLINICAL"),
    ];
    let (s, _, _) = b.post_raw("/organizations/departments/new/", &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no token");
    let mut wrong = fields.to_vec();
    wrong.push(("csrf_token", "not-the-token"));
    let (s, _, _) = b.post_raw("/organizations/departments/new/", &wrong).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong token");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM departments").await, 0);
    let (s, _, loc) = b.post("/organizations/departments/new/", &fields).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().starts_with("/organizations/departments/"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM departments").await, 1);
}

#[tokio::test]
async fn an_invalid_form_is_shown_again_with_messages_beside_the_fields_and_what_was_typed() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    b.get("/organizations/departments/new/").await;
    let hs = h.to_string();
    let (s, body, _) = b
        .post(
            "/organizations/departments/new/",
            &[
                ("hospital", &hs),
                ("code", "CARD"),
                ("name_en", "Cardiology Unit"),
                ("name_ar", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("id=\"err_name_ar\""),
        "message beside name_ar"
    );
    assert!(
        body.contains("id=\"err_category\""),
        "message beside category"
    );
    assert!(
        body.contains("value=\"Cardiology Unit\""),
        "typed value kept"
    );
    assert!(body.contains("value=\"CARD\""));
    assert!(
        body.contains("Hospital HH-RUH"),
        "the chosen hospital is still selected, by name"
    );
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM departments").await, 0);
    // The same in Arabic: the catalog translates the service's messages.
    b.post("/lang/", &[("lang", "ar"), ("next", "/")]).await;
    b.get("/organizations/departments/new/").await;
    let (_, body, _) = b
        .post(
            "/organizations/departments/new/",
            &[("hospital", &hs), ("code", "CARD"), ("name_en", "x")],
        )
        .await;
    assert!(body.contains("dir=\"rtl\""));
    assert!(
        body.contains("هذا الحقل مطلوب") || body.contains("لا يجوز ترك هذا الحقل فارغًا"),
        "{body}"
    );
}

#[tokio::test]
async fn a_viewer_sees_no_admin_links_and_typed_urls_answer_403() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    let (_, email) = person(&app, Role::Viewer, Some(h), None).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let (_, home) = b.get("/").await;
    assert!(
        home.contains("href=\"/organizations/patients/\""),
        "viewers may view patients"
    );
    // The permission table lets a viewer read users, but not API keys, the audit log or settings.
    assert!(home.contains("href=\"/accounts/users/\""));
    for hidden in ["/accounts/api-keys/", "/audit/log/", "/config/"] {
        assert!(
            !home.contains(&format!("href=\"{hidden}\"")),
            "{hidden} must be hidden from a viewer"
        );
        let (s, _) = b.get(hidden).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{hidden}");
    }
    let (s, _) = b.get("/organizations/patients/new/").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, list) = b.get("/organizations/patients/").await;
    assert!(
        !list.contains("data-testid=\"new\""),
        "no create button for a viewer"
    );
}

#[tokio::test]
async fn a_hospital_admin_sees_only_its_hospital() {
    let app = spawn_app().await;
    let a = factory::hospital(&app, "HH-AAA").await;
    let b_h = factory::hospital(&app, "HH-BBB").await;
    let (_, email) = person(&app, Role::HospitalAdmin, Some(a), None).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let (_, list) = b.get("/organizations/hospitals/").await;
    assert!(list.contains("HH-AAA"));
    assert!(!list.contains("HH-BBB"));
    let (s, _) = b.get(&format!("/organizations/hospitals/{b_h}/")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = b
        .get(&format!("/organizations/hospitals/{b_h}/settings/"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = b
        .get(&format!("/organizations/hospitals/{a}/settings/"))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, found) = b.get("/ui/ref/hospital/?q=HH").await;
    assert!(found.contains(&a.to_string()) && !found.contains(&b_h.to_string()));
}

async fn add_patients(app: &TestApp, hospital: Uuid, n: usize) {
    for i in 0..n {
        let id = Uuid::now_v7();
        let now = app.clock.now();
        let gender = if i % 3 == 0 { "FEMALE" } else { "MALE" };
        let (en, ar) = if i % 10 == 0 {
            ("Ahmed", "أحمد")
        } else {
            ("Sara", "سارة")
        };
        exec(
            app,
            "INSERT INTO patients (id, hospital_id, mrn, first_name_en, last_name_en, first_name_ar, last_name_ar, search_text, preferred_language, gender, opt_out, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'Alqahtani', $5, 'القحطاني', $6, 'ar', $7, $8, $9, $9)",
            vec![
                id.into(),
                hospital.into(),
                format!("MRN{i:05}").into(),
                en.into(),
                ar.into(),
                px360::platform::text::normalize_arabic(&format!("MRN{i:05} {en} Alqahtani {ar} القحطاني")).into(),
                gender.into(),
                false.into(),
                now.into(),
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn lists_filter_sort_and_page_with_htmx_fragments() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    add_patients(&app, h, 60).await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let (s, page) = b
        .get("/organizations/patients/?gender=FEMALE&ordering=-mrn")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("<html"), "a full page");
    assert!(
        page.contains("of 20"),
        "20 of 60 are female: {}",
        &page[page.find("list-summary").unwrap_or(0)..][..120]
    );
    let r = b
        .client
        .get(app.url("/organizations/patients/?gender=FEMALE&ordering=-mrn&page=1"))
        .header("HX-Request", "true")
        .header("HX-Target", "list")
        .send()
        .await
        .unwrap();
    let frag = r.text().await.unwrap();
    assert!(!frag.contains("<html"), "htmx gets the table fragment only");
    let first = frag.find("MRN00057").unwrap();
    let second = frag.find("MRN00054").unwrap();
    assert!(first < second, "sorted by MRN descending");
    let (_, p2) = b.get("/organizations/patients/?page=2").await;
    assert!(p2.contains("26–50 of 60"), "page 2 of the unfiltered list");
}

#[tokio::test]
async fn arabic_search_ignores_hamza_forms() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    add_patients(&app, h, 20).await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    for q in ["أحمد", "احمد", "إحمد", "آحمد"] {
        let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let (_, page) = b
            .get(&format!("/organizations/patients/?search={enc}"))
            .await;
        assert!(page.contains("of 2"), "{q} finds both Ahmeds");
    }
}

#[tokio::test]
async fn exports_hold_the_whole_filtered_list() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    add_patients(&app, h, 250).await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    // 84 of 250 are female: more than one page of 25 and more than one export page of 200 would not be.
    let (s, h, xlsx) = b
        .get_bytes("/organizations/patients/export/?format=xlsx&gender=FEMALE")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-disposition"].to_str().unwrap().contains(".xlsx"));
    let sheet = px360::platform::import::read("export.xlsx", &xlsx, 10_000).unwrap();
    assert_eq!(sheet.rows.len(), 84);
    let (_, _, all) = b
        .get_bytes("/organizations/patients/export/?format=xlsx")
        .await;
    assert_eq!(
        px360::platform::import::read("all.xlsx", &all, 10_000)
            .unwrap()
            .rows
            .len(),
        250
    );
    if let Ok(out) = std::process::Command::new("python3")
        .args(["-c", "import openpyxl,sys; wb=openpyxl.load_workbook(sys.argv[1]); print(wb.active.max_row - 1)"])
        .arg({
            let p = std::env::temp_dir().join(format!("px360-{}.xlsx", Uuid::now_v7()));
            std::fs::write(&p, &xlsx).unwrap();
            p
        })
        .output()
        && out.status.success()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "84", "openpyxl reads the same rows");
    }
    let (s, h, csv) = b
        .get_bytes("/organizations/patients/export/?format=csv&gender=FEMALE")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(
        csv.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 BOM so Excel shows Arabic"
    );
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(text.lines().count(), 85, "header + 84 rows");
    assert!(text.contains("القحطاني"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'export.list'")
            .await,
        3
    );
}

#[tokio::test]
async fn the_pdf_summary_of_a_patient_carries_its_arabic_name() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    add_patients(&app, h, 1).await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let id: String = {
        use sea_orm::ConnectionTrait;
        let db = app.db();
        let r = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM patients",
            ))
            .await
            .unwrap()
            .unwrap();
        r.try_get_by_index::<Uuid>(0).unwrap().to_string()
    };
    b.post("/lang/", &[("lang", "ar"), ("next", "/")]).await;
    let (s, h, pdf) = b
        .get_bytes(&format!("/organizations/patients/{id}/pdf/"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    let path = std::env::temp_dir().join(format!("px360-{}.pdf", Uuid::now_v7()));
    std::fs::write(&path, &pdf).unwrap();
    if let Ok(out) = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("القحطاني"),
            "Arabic extracted from the PDF: {text}"
        );
    }
}

fn patients_csv(n: usize, bad: &[usize]) -> String {
    let mut s = String::from(
        "hospital,mrn,first_name_en,last_name_en,first_name_ar,last_name_ar,gender,phone\n",
    );
    for i in 0..n {
        let phone = if bad.contains(&i) {
            "not-a-phone"
        } else {
            "+966501234567"
        };
        s.push_str(&format!(
            "HH-RUH,IMP{i:05},Noura,Alharbi,نورة,الحربي,FEMALE,{phone}\n"
        ));
    }
    s
}

async fn upload(b: &Browser<'_>, app: &TestApp, csv: String) -> (StatusCode, String) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes())
            .file_name("patients.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let r = b
        .client
        .post(app.url("/organizations/patients/import/"))
        .header("X-CSRF-Token", &b.csrf)
        .header("HX-Request", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn importing_ten_thousand_patients_reports_bad_rows_then_writes_all_in_one_go() {
    let app = spawn_app().await;
    factory::hospital(&app, "HH-RUH").await;
    let (_, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    b.get("/organizations/patients/import/").await;
    let (s, body) = upload(&b, &app, patients_csv(10_000, &[10, 5000, 9999])).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        &body[..body.len().min(500)]
    );
    assert!(body.contains("data-testid=\"import-errors\""));
    // Lines: the header is line 1, so row i is line i + 2.
    for line in ["<td>12</td>", "<td>5,002</td>", "<td>10,001</td>"] {
        assert!(body.contains(line), "{line} reported");
    }
    assert_eq!(
        body.matches("<tr><td>").count(),
        3,
        "exactly three bad rows"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM patients").await,
        0,
        "nothing written"
    );
    let (s, body) = upload(&b, &app, patients_csv(10_000, &[])).await;
    assert_eq!(s, StatusCode::OK);
    let token = {
        let i = body.find("name=\"token\" value=\"").unwrap();
        let rest = &body[i + 20..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM patients").await,
        0,
        "the preview writes nothing"
    );
    let (s, _, loc) = b
        .post(
            "/organizations/patients/import/commit/",
            &[("token", &token)],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/organizations/patients/"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM patients").await,
        10_000
    );
    // The token works once.
    let (s, _, _) = b
        .post(
            "/organizations/patients/import/commit/",
            &[("token", &token)],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn saved_filters_are_per_user_and_the_default_opens_the_list() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    add_patients(&app, h, 30).await;
    let (_, email) = admin(&app).await;
    let (_, other) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    b.get("/organizations/patients/").await;
    let (s, _, loc) = b
        .post(
            "/ui/views/",
            &[
                ("view", "organizations/patients"),
                ("name", "Women"),
                ("query", "gender=FEMALE&page=3"),
                ("is_default", "true"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().contains("gender=FEMALE"));
    let (_, page) = b.get("/organizations/patients/").await;
    assert!(
        page.contains("of 10"),
        "the default view applies: 10 of 30 are female"
    );
    assert!(page.contains(">Women</a>"));
    let (_, page) = b.get("/organizations/patients/?view=none").await;
    assert!(
        page.contains("of 30"),
        "an explicit query wins over the default"
    );
    let id: Uuid = {
        use sea_orm::ConnectionTrait;
        let db = app.db();
        db.query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM saved_views",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
    };
    let mut c = Browser::new(&app);
    c.login(&other).await;
    let (_, page) = c.get("/organizations/patients/").await;
    assert!(
        page.contains("of 30") && !page.contains(">Women</a>"),
        "another user's views are not theirs"
    );
    let (s, _, _) = c
        .post(
            &format!("/ui/views/{id}/delete/"),
            &[("view", "organizations/patients")],
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = b
        .post(
            &format!("/ui/views/{id}/delete/"),
            &[("view", "organizations/patients")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM saved_views").await, 0);
}

#[tokio::test]
async fn every_console_page_renders_for_the_px_admin_in_both_languages() {
    let app = spawn_app().await;
    let h = factory::hospital(&app, "HH-RUH").await;
    let d = factory::department(&app, h, "CARD", None).await;
    add_patients(&app, h, 3).await;
    let (uid, email) = admin(&app).await;
    let mut b = Browser::new(&app);
    b.login(&email).await;
    let patient: Uuid = {
        use sea_orm::ConnectionTrait;
        let db = app.db();
        db.query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM patients",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
    };
    let pages = [
        "/".to_string(),
        "/search/?q=Ahmed".into(),
        "/config/".into(),
        "/organizations/hospitals/".into(),
        format!("/organizations/hospitals/{h}/"),
        format!("/organizations/hospitals/{h}/edit/"),
        format!("/organizations/hospitals/{h}/settings/"),
        "/organizations/hospitals/new/".into(),
        "/organizations/departments/".into(),
        "/organizations/departments/tree/".into(),
        format!("/organizations/departments/{d}/"),
        "/organizations/departments/new/".into(),
        "/organizations/departments/import/".into(),
        "/organizations/physicians/".into(),
        "/organizations/physicians/new/".into(),
        "/organizations/employees/".into(),
        "/organizations/employees/new/".into(),
        "/organizations/patients/".into(),
        format!("/organizations/patients/{patient}/"),
        format!("/organizations/patients/{patient}/edit/"),
        "/organizations/patients/new/".into(),
        "/organizations/patients/import/".into(),
        "/accounts/users/".into(),
        format!("/accounts/users/{uid}/"),
        format!("/accounts/users/{uid}/edit/"),
        "/accounts/users/new/".into(),
        "/accounts/roles/".into(),
        "/accounts/roles/?role=VIEWER".into(),
        "/accounts/api-keys/".into(),
        "/accounts/api-keys/new/".into(),
        "/accounts/profile/".into(),
        "/accounts/password/".into(),
        "/audit/log/".into(),
    ];
    for lang in ["en", "ar"] {
        b.post("/lang/", &[("lang", lang), ("next", "/")]).await;
        for p in &pages {
            let (s, body) = b.get(p).await;
            assert_eq!(s, StatusCode::OK, "{lang} {p}");
            assert!(body.contains(&format!("lang=\"{lang}\"")), "{lang} {p}");
            let rtl = body.contains("dir=\"rtl\"") && body.contains("bootstrap.rtl.min.");
            assert_eq!(rtl, lang == "ar", "{lang} {p}: RTL layout");
            assert!(
                !body.contains("{{") && !body.contains("\"nav."),
                "{lang} {p}: untranslated key"
            );
        }
    }
    // A patient detail view is audited as such.
    assert!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'patient.viewed'")
            .await
            >= 2
    );
    // The language choice is the user's preference now.
    let lang: String = {
        use sea_orm::ConnectionTrait;
        let db = app.db();
        db.query_one_raw(px360::platform::db::stmt(
            db.get_database_backend(),
            "SELECT preferred_language FROM users WHERE id = $1",
            vec![uid.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
    };
    assert_eq!(lang, "ar");
}

#[tokio::test]
async fn unknown_console_pages_are_html_and_api_ones_json() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/no/such/page/"))
        .header("accept-language", "ar")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.unwrap();
    assert!(body.contains("<html lang=\"ar\" dir=\"rtl\">"));
    let r = app
        .client
        .get(app.url("/api/no/such/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["detail"],
        "Not found."
    );
}

#[tokio::test]
async fn static_assets_are_served_with_hashed_names_and_long_caching() {
    let app = spawn_app().await;
    let url = px360::platform::ui::assets::url("vendor/htmx/htmx.min.js");
    let r = app
        .client
        .get(app.url(&url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = app.client.get(app.url("/login/")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
}
