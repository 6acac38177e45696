//! Patients: MRN unique per hospital, names kept searchable in Arabic-normalised form, national ID
//! stored only encrypted with a keyed blind index for exact look-up. Lists mask phone and national ID;
//! every detail view is audited (`patient.viewed`).

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Order,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::{Form, Mode, Reach, audit, changed, check_hospital, check_placement, keep_hospital};
use crate::apps::organizations::model::{
    GENDERS, LANGUAGES, NationalId, choice_error, mask_phone, mask_tail, patient,
};
use crate::apps::organizations::wire::{PatientIn, PatientOut};
use crate::platform::crypto;
use crate::platform::db::in_txn;
use crate::platform::error::{AppError, AppResult, on_constraint};
use crate::platform::ids::new_id;
use crate::platform::pagination::{
    Filter, FilterKind, ListQuery, ListSpec, Page, escape_like, paginate,
};
use crate::platform::rbac::{self, Operation, Principal, Resource, ScopeColumns};
use crate::platform::state::AppState;
use crate::platform::text::normalize_arabic;

const MRN_TAKEN: &str = "A patient with this MRN already exists in this hospital.";
const R: Resource = Resource::Patients;

fn cols() -> ScopeColumns<patient::Column> {
    ScopeColumns {
        hospital: Some(patient::Column::HospitalId),
        department: None,
        physician: None,
        assignee: None,
    }
}

fn spec() -> ListSpec<patient::Entity> {
    use patient::Column as C;
    ListSpec {
        // `?search=` is applied separately on the normalised `search_text`.
        search: vec![],
        ordering: vec![
            ("mrn", C::Mrn),
            ("created_at", C::CreatedAt),
            ("last_name_en", C::LastNameEn),
        ],
        default_ordering: vec![(C::Id, Order::Asc)],
        filters: vec![
            Filter {
                name: "hospital",
                column: C::HospitalId,
                kind: FilterKind::Uuid,
            },
            Filter {
                name: "mrn",
                column: C::Mrn,
                kind: FilterKind::Text,
            },
            Filter {
                name: "gender",
                column: C::Gender,
                kind: FilterKind::Choice(GENDERS),
            },
            Filter {
                name: "opt_out",
                column: C::OptOut,
                kind: FilterKind::Bool,
            },
        ],
    }
}

fn key(state: &AppState) -> &[u8; 32] {
    state.keys.encryption.expose()
}

/// The MRN and all four names, Arabic-normalised and lower-cased, for `?search=`.
pub fn search_text(m: &patient::Model) -> String {
    normalize_arabic(
        &[
            m.mrn.as_str(),
            &m.first_name_en,
            &m.last_name_en,
            &m.first_name_ar,
            &m.last_name_ar,
        ]
        .join(" "),
    )
}

fn to_out(state: &AppState, m: patient::Model, masked: bool) -> PatientOut {
    let national_id =
        m.national_id_enc
            .as_deref()
            .and_then(|c| match crypto::decrypt(key(state), c) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(patient = %m.id, error = %e, "cannot decrypt a national ID");
                    None
                }
            });
    let (phone, national_id) = if masked {
        (
            m.phone.as_deref().map(mask_phone),
            national_id.as_deref().map(mask_tail),
        )
    } else {
        (m.phone, national_id)
    };
    PatientOut {
        id: m.id,
        hospital: m.hospital_id,
        mrn: m.mrn,
        first_name_en: m.first_name_en,
        last_name_en: m.last_name_en,
        first_name_ar: m.first_name_ar,
        last_name_ar: m.last_name_ar,
        phone,
        email: m.email,
        preferred_language: m.preferred_language,
        date_of_birth: m.date_of_birth,
        gender: m.gender,
        national_id,
        opt_out: m.opt_out,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// The caller's patients, phone and national ID masked.
///
/// # Errors
/// 403 without view permission; 400 for bad list parameters.
pub async fn list(state: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<PatientOut>> {
    let mut select = rbac::scoped(
        patient::Entity::find().filter(patient::Column::DeletedAt.is_null()),
        p,
        R,
        Operation::View,
        cols(),
    )?;
    if let Some(term) = &q.search {
        let pattern = format!("%{}%", escape_like(&normalize_arabic(term)));
        select = select.filter(
            Expr::col((patient::Entity, patient::Column::SearchText))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(raw) = q.param("national_id") {
        // An ID of the wrong form simply matches nothing, as any other unknown value would.
        let normalised = NationalId::parse(raw)
            .map_or_else(|_| raw.trim().to_string(), |n| n.as_str().to_string());
        select = select.filter(
            patient::Column::NationalIdIndex.eq(crypto::blind_index(key(state), &normalised)),
        );
    }
    if let Some(lang) = q.param("preferred_language") {
        let lang = lang.trim().to_lowercase();
        if !LANGUAGES.contains(&lang.as_str()) {
            return Err(AppError::field(
                "preferred_language",
                choice_error(&lang, LANGUAGES),
            ));
        }
        select = select.filter(patient::Column::PreferredLanguage.eq(lang));
    }
    Ok(paginate(&state.db, select, &spec(), q)
        .await?
        .map(|m| to_out(state, m, true)))
}

async fn visible<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    id: Uuid,
) -> AppResult<patient::Model> {
    rbac::find_visible(
        conn,
        patient::Entity::find_by_id(id).filter(patient::Column::DeletedAt.is_null()),
        p,
        R,
        cols(),
    )
    .await
}

/// The full record; the view itself is audited before anything is returned.
///
/// # Errors
/// 404 out of scope; database errors (no record is shown unaudited).
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<PatientOut> {
    let m = visible(&state.db, p, id).await?;
    audit(
        &state.db,
        state,
        p,
        "patient.viewed",
        m.id,
        Some(m.hospital_id),
        json!({}),
    )
    .await?;
    Ok(to_out(state, m, false))
}

fn apply(state: &AppState, form: &mut Form, i: PatientIn, m: &mut patient::Model) {
    form.text("mrn", i.mrn, &mut m.mrn, 50);
    form.opt_text("first_name_en", i.first_name_en, &mut m.first_name_en, 100);
    form.opt_text("last_name_en", i.last_name_en, &mut m.last_name_en, 100);
    form.opt_text("first_name_ar", i.first_name_ar, &mut m.first_name_ar, 100);
    form.opt_text("last_name_ar", i.last_name_ar, &mut m.last_name_ar, 100);
    if m.first_name_en.is_empty() && m.first_name_ar.is_empty() && !form.has("first_name_en") {
        form.add(
            "first_name_en",
            "Give a first name in English or in Arabic (first_name_ar).",
        );
    }
    form.phone("phone", i.phone, &mut m.phone);
    form.email("email", i.email, &mut m.email);
    form.choice(
        "preferred_language",
        i.preferred_language,
        &mut m.preferred_language,
        LANGUAGES,
        false,
    );
    form.choice("gender", i.gender, &mut m.gender, GENDERS, false);
    form.flag(i.opt_out, &mut m.opt_out);
    match i.date_of_birth {
        Some(Some(d)) if !d.trim().is_empty() => {
            match NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
                Ok(day) if day > state.clock.now().date_naive() => {
                    form.add("date_of_birth", "Date of birth cannot be in the future.");
                }
                Ok(day) => m.date_of_birth = Some(day),
                Err(_) => form.add("date_of_birth", "Date has wrong format. Use YYYY-MM-DD."),
            }
        }
        Some(_) => m.date_of_birth = None,
        None => {}
    }
    match i.national_id {
        Some(Some(v)) if !v.trim().is_empty() => match NationalId::parse(&v) {
            Ok(n) => match crypto::encrypt(key(state), n.as_str()) {
                Ok(enc) => {
                    m.national_id_enc = Some(enc);
                    m.national_id_index = Some(crypto::blind_index(key(state), n.as_str()));
                }
                Err(_) => form.add("national_id", "Could not be stored; try again."),
            },
            Err(msg) => form.add("national_id", msg),
        },
        Some(_) => {
            m.national_id_enc = None;
            m.national_id_index = None;
        }
        None => {}
    }
    m.search_text = search_text(m);
}

async fn mrn_taken<C: ConnectionTrait>(conn: &C, m: &patient::Model) -> AppResult<bool> {
    Ok(patient::Entity::find()
        .filter(patient::Column::HospitalId.eq(m.hospital_id))
        .filter(patient::Column::Mrn.eq(m.mrn.as_str()))
        .filter(patient::Column::Id.ne(m.id))
        .count(conn)
        .await?
        > 0)
}

/// # Errors
/// 403 without create permission; 400 with every invalid field (a hospital out of scope reads like a
/// nonexistent one); 400 on `mrn` when the hospital already has it.
pub async fn create(state: &AppState, p: &Principal, i: PatientIn) -> AppResult<PatientOut> {
    in_txn(&state.db, async move |txn| {
        create_in(txn, state, p, i).await
    })
    .await
}

/// [`create`] inside the caller's transaction (imports run many in one).
///
/// # Errors
/// As [`create`].
pub async fn create_in<C: ConnectionTrait>(
    txn: &C,
    state: &AppState,
    p: &Principal,
    i: PatientIn,
) -> AppResult<PatientOut> {
    p.require(R, Operation::Create)?;
    let now = state.clock.now();
    let mut m = patient::Model {
        id: new_id(),
        hospital_id: Uuid::nil(),
        mrn: String::new(),
        first_name_en: String::new(),
        last_name_en: String::new(),
        first_name_ar: String::new(),
        last_name_ar: String::new(),
        search_text: String::new(),
        phone: None,
        email: None,
        preferred_language: "ar".into(),
        date_of_birth: None,
        gender: "UNKNOWN".into(),
        national_id_enc: None,
        national_id_index: None,
        opt_out: false,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut form = Form::new(Mode::Create);
    let hospital = i.hospital;
    form.fk("hospital", hospital, &mut m.hospital_id);
    apply(state, &mut form, i, &mut m);
    {
        if hospital.is_some() {
            check_hospital(txn, p, R, Operation::Create, &mut form, m.hospital_id).await?;
            if !form.has("hospital") && !form.has("mrn") && mrn_taken(txn, &m).await? {
                form.add("mrn", MRN_TAKEN);
            }
        }
        check_placement(
            p,
            R,
            Operation::Create,
            &mut form,
            Reach::hospital(m.hospital_id),
            "hospital",
        );
        form.finish()?;
        let saved = m
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| on_constraint(e, "mrn", MRN_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "patient.created",
            saved.id,
            Some(saved.hospital_id),
            json!({}),
        )
        .await?;
        Ok(to_out(state, saved, false))
    }
}

/// PATCH or PUT.
///
/// # Errors
/// 404 out of view scope, 403 without edit permission, 400 for invalid fields.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: PatientIn,
    mode: Mode,
) -> AppResult<PatientOut> {
    in_txn(&state.db, async move |txn| {
        let before = visible(txn, p, id).await?;
        p.allow(R, Operation::Edit, Reach::hospital(before.hospital_id))?;
        let mut m = before.clone();
        let mut form = Form::new(mode);
        keep_hospital(&mut form, i.hospital, before.hospital_id);
        apply(state, &mut form, i, &mut m);
        if !form.has("mrn") && m.mrn != before.mrn && mrn_taken(txn, &m).await? {
            form.add("mrn", MRN_TAKEN);
        }
        form.finish()?;
        m.updated_at = state.clock.now();
        let fields = changed!(before, m; mrn, first_name_en, last_name_en, first_name_ar,
            last_name_ar, phone, email, preferred_language, date_of_birth, gender,
            national_id_index, opt_out);
        let saved = m
            .into_active_model()
            .reset_all()
            .update(txn)
            .await
            .map_err(|e| on_constraint(e, "mrn", MRN_TAKEN))?;
        audit(
            txn,
            state,
            p,
            "patient.updated",
            id,
            Some(saved.hospital_id),
            json!({"fields": fields}),
        )
        .await?;
        Ok(to_out(state, saved, false))
    })
    .await
}

/// # Errors
/// 404 out of view scope, 403 without delete permission.
pub async fn delete(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    in_txn(&state.db, async move |txn| {
        let m = visible(txn, p, id).await?;
        p.allow(R, Operation::Delete, Reach::hospital(m.hospital_id))?;
        let hospital = m.hospital_id;
        let mut am = m.into_active_model();
        am.deleted_at = sea_orm::Set(Some(state.clock.now()));
        am.update(txn).await?;
        audit(
            txn,
            state,
            p,
            "patient.deleted",
            id,
            Some(hospital),
            json!({}),
        )
        .await?;
        Ok(())
    })
    .await
}
