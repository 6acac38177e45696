//! Look-ups and writes for modules above organizations (journeys, integrations), always on the
//! caller's connection or transaction. No permission checks here: callers have checked their own
//! (an inbound event is authorised at intake, its processing acts as the system).

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::patients::search_text;
use crate::apps::organizations::model::{department, hospital, patient, physician};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::ids::new_id;
use crate::platform::validate::Phone;

/// Whether a live hospital has this id.
///
/// # Errors
/// Database errors.
pub async fn hospital_exists<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<bool> {
    Ok(hospital::Entity::find_by_id(id)
        .filter(hospital::Column::DeletedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// A live hospital's id by its code.
///
/// # Errors
/// Database errors.
pub async fn hospital_by_code<C: ConnectionTrait>(conn: &C, code: &str) -> AppResult<Option<Uuid>> {
    Ok(hospital::Entity::find()
        .filter(hospital::Column::Code.eq(code))
        .filter(hospital::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|h| h.id))
}

/// The only live hospital, when there is exactly one (a single-hospital deployment).
///
/// # Errors
/// Database errors.
pub async fn sole_hospital<C: ConnectionTrait>(conn: &C) -> AppResult<Option<Uuid>> {
    let rows = hospital::Entity::find()
        .filter(hospital::Column::DeletedAt.is_null())
        .limit(2)
        .all(conn)
        .await?;
    Ok(match rows.as_slice() {
        [only] => Some(only.id),
        _ => None,
    })
}

/// # Errors
/// Database errors.
pub async fn patient_in_hospital<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    id: Uuid,
) -> AppResult<bool> {
    Ok(patient::Entity::find_by_id(id)
        .filter(patient::Column::HospitalId.eq(hospital))
        .filter(patient::Column::DeletedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// A live patient's id by MRN.
///
/// # Errors
/// Database errors.
pub async fn patient_by_mrn<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    mrn: &str,
) -> AppResult<Option<Uuid>> {
    Ok(patient::Entity::find()
        .filter(patient::Column::HospitalId.eq(hospital))
        .filter(patient::Column::Mrn.eq(mrn))
        .filter(patient::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|p| p.id))
}

/// # Errors
/// Database errors.
pub async fn physician_in_hospital<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    id: Uuid,
) -> AppResult<bool> {
    Ok(physician::Entity::find_by_id(id)
        .filter(physician::Column::HospitalId.eq(hospital))
        .filter(physician::Column::DeletedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// A live physician by licence number: its id and department.
///
/// # Errors
/// Database errors.
pub async fn physician_by_license<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    license: &str,
) -> AppResult<Option<(Uuid, Option<Uuid>)>> {
    Ok(physician::Entity::find()
        .filter(physician::Column::HospitalId.eq(hospital))
        .filter(physician::Column::LicenseNumber.eq(license))
        .filter(physician::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|p| (p.id, p.department_id)))
}

/// # Errors
/// Database errors.
pub async fn department_in_hospital<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    id: Uuid,
) -> AppResult<bool> {
    Ok(department::Entity::find_by_id(id)
        .filter(department::Column::HospitalId.eq(hospital))
        .filter(department::Column::DeletedAt.is_null())
        .count(conn)
        .await?
        > 0)
}

/// A live department's id by code.
///
/// # Errors
/// Database errors.
pub async fn department_by_code<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    code: &str,
) -> AppResult<Option<Uuid>> {
    Ok(department::Entity::find()
        .filter(department::Column::HospitalId.eq(hospital))
        .filter(department::Column::Code.eq(code))
        .filter(department::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|d| d.id))
}

/// Demographics an interface (HL7 PID, FHIR Patient) may carry. Absent values leave fields as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demographics {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// MALE, FEMALE or UNKNOWN
    pub gender: Option<String>,
    /// Any form; kept only when it normalises to E.164.
    pub phone: Option<String>,
}

fn is_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

/// Applies `d` to `m`; returns the names of the fields that changed (never their values).
fn apply_demographics(m: &mut patient::Model, d: &Demographics) -> Vec<&'static str> {
    let mut changed = vec![];
    let mut set = |slot: &mut String, v: &Option<String>, name: &'static str| {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            let v: String = v.chars().take(100).collect();
            if *slot != v {
                *slot = v;
                changed.push(name);
            }
        }
    };
    // Names written in Arabic script go to the Arabic fields.
    let ar = d.first_name.as_deref().is_some_and(is_arabic)
        || d.last_name.as_deref().is_some_and(is_arabic);
    if ar {
        set(&mut m.first_name_ar, &d.first_name, "first_name_ar");
        set(&mut m.last_name_ar, &d.last_name, "last_name_ar");
    } else {
        set(&mut m.first_name_en, &d.first_name, "first_name_en");
        set(&mut m.last_name_en, &d.last_name, "last_name_en");
    }
    if let Some(g) = d.gender.as_deref()
        && ["MALE", "FEMALE", "UNKNOWN"].contains(&g)
        && m.gender != g
    {
        m.gender = g.to_string();
        changed.push("gender");
    }
    if let Some(dob) = d.date_of_birth
        && m.date_of_birth != Some(dob)
    {
        m.date_of_birth = Some(dob);
        changed.push("date_of_birth");
    }
    if let Some(p) = d.phone.as_deref().and_then(|p| Phone::parse(p).ok()) {
        let p = p.into_inner();
        if m.phone.as_deref() != Some(p.as_str()) {
            m.phone = Some(p);
            changed.push("phone");
        }
    }
    m.search_text = search_text(m);
    changed
}

/// The patient with this MRN, created from `d` when the hospital has none yet (an interface's first
/// message about a patient). Returns the id and whether it was created; creation is audited.
///
/// # Errors
/// Database errors.
pub async fn ensure_patient<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    hospital: Uuid,
    mrn: &str,
    d: &Demographics,
) -> AppResult<(Uuid, bool)> {
    if let Some(id) = patient_by_mrn(conn, hospital, mrn).await? {
        return Ok((id, false));
    }
    let now = clock.now();
    let mut m = patient::Model {
        id: new_id(),
        hospital_id: hospital,
        mrn: mrn.chars().take(50).collect(),
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
    apply_demographics(&mut m, d);
    if m.first_name_en.is_empty() && m.first_name_ar.is_empty() {
        // The service requires a first name; an interface may not send one. The MRN stands in.
        m.first_name_en = format!("Patient {}", m.mrn);
        m.search_text = search_text(&m);
    }
    let saved = m.into_active_model().reset_all().insert(conn).await?;
    audit::record(
        conn,
        clock,
        actor,
        AuditEntry::new("patient.created")
            .object("patient", saved.id)
            .hospital(Some(hospital))
            .details(json!({"source": "integration"})),
    )
    .await?;
    Ok((saved.id, true))
}

/// Updates a patient's demographics by MRN (HL7 A08). Returns the patient and the changed field names,
/// or `None` when the hospital has no such patient. Audited when anything changed.
///
/// # Errors
/// Database errors.
pub async fn update_demographics<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    hospital: Uuid,
    mrn: &str,
    d: &Demographics,
) -> AppResult<Option<(Uuid, Vec<&'static str>)>> {
    let Some(m) = patient::Entity::find()
        .filter(patient::Column::HospitalId.eq(hospital))
        .filter(patient::Column::Mrn.eq(mrn))
        .filter(patient::Column::DeletedAt.is_null())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let mut after = m.clone();
    let changed = apply_demographics(&mut after, d);
    if changed.is_empty() {
        return Ok(Some((m.id, changed)));
    }
    after.updated_at = clock.now();
    let id = after.id;
    after.into_active_model().reset_all().update(conn).await?;
    audit::record(
        conn,
        clock,
        actor,
        AuditEntry::new("patient.updated")
            .object("patient", id)
            .hospital(Some(hospital))
            .details(json!({"fields": changed, "source": "integration"})),
    )
    .await?;
    Ok(Some((id, changed)))
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// `merged` was retired (soft-deleted) in favour of `surviving`.
    Merged { surviving: Uuid, merged: Uuid },
    /// Only the old MRN existed: it now carries the surviving MRN.
    Renamed { patient: Uuid },
    /// Neither MRN is known here.
    NothingToMerge,
}

/// HL7 A40: the patient with `merged_mrn` is merged into the one with `surviving_mrn`. Audited. The
/// caller moves the merged patient's other records (journeys) to the survivor.
///
/// # Errors
/// Database errors.
pub async fn merge_patients<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    hospital: Uuid,
    surviving_mrn: &str,
    merged_mrn: &str,
) -> AppResult<MergeOutcome> {
    let surviving = patient_by_mrn(conn, hospital, surviving_mrn).await?;
    let merged = patient::Entity::find()
        .filter(patient::Column::HospitalId.eq(hospital))
        .filter(patient::Column::Mrn.eq(merged_mrn))
        .filter(patient::Column::DeletedAt.is_null())
        .one(conn)
        .await?;
    let now = clock.now();
    let outcome = match (surviving, merged) {
        (_, None) => return Ok(MergeOutcome::NothingToMerge),
        (Some(s), Some(m)) if s == m.id => return Ok(MergeOutcome::NothingToMerge),
        (Some(s), Some(m)) => {
            let mid = m.id;
            let mut am = m.into_active_model();
            am.deleted_at = Set(Some(now));
            am.updated_at = Set(now);
            am.update(conn).await?;
            MergeOutcome::Merged {
                surviving: s,
                merged: mid,
            }
        }
        (None, Some(m)) => {
            let mid = m.id;
            let mut after = m;
            after.mrn = surviving_mrn.chars().take(50).collect();
            after.updated_at = now;
            after.search_text = search_text(&after);
            after.into_active_model().reset_all().update(conn).await?;
            MergeOutcome::Renamed { patient: mid }
        }
    };
    let (object, details) = match &outcome {
        MergeOutcome::Merged { surviving, merged } => (
            *surviving,
            json!({"merged_patient": merged, "source": "integration"}),
        ),
        MergeOutcome::Renamed { patient } => (
            *patient,
            json!({"fields": ["mrn"], "source": "integration"}),
        ),
        MergeOutcome::NothingToMerge => return Ok(outcome),
    };
    audit::record(
        conn,
        clock,
        actor,
        AuditEntry::new("patient.merged")
            .object("patient", object)
            .hospital(Some(hospital))
            .details(details),
    )
    .await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> patient::Model {
        let now = chrono::Utc::now();
        patient::Model {
            id: Uuid::nil(),
            hospital_id: Uuid::nil(),
            mrn: "MRN1".into(),
            first_name_en: "Ahmed".into(),
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
        }
    }

    #[test]
    fn arabic_names_go_to_the_arabic_fields_and_bad_phones_are_dropped() {
        let mut m = blank();
        let changed = apply_demographics(
            &mut m,
            &Demographics {
                first_name: Some("محمد".into()),
                last_name: Some("الحربي".into()),
                gender: Some("MALE".into()),
                phone: Some("not a phone".into()),
                ..Default::default()
            },
        );
        assert_eq!(m.first_name_ar, "محمد");
        assert_eq!(m.first_name_en, "Ahmed");
        assert_eq!(changed, vec!["first_name_ar", "last_name_ar", "gender"]);
        assert!(m.phone.is_none());
    }

    #[test]
    fn unchanged_values_report_nothing() {
        let mut m = blank();
        let changed = apply_demographics(
            &mut m,
            &Demographics {
                first_name: Some("Ahmed".into()),
                ..Default::default()
            },
        );
        assert!(changed.is_empty());
    }
}

/// What the notifications module needs to reach a patient.
#[derive(Debug, Clone)]
pub struct PatientContact {
    pub id: Uuid,
    pub hospital: Uuid,
    pub name_en: String,
    pub name_ar: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// `en` or `ar`.
    pub preferred_language: String,
    pub opt_out: bool,
}

/// A live patient's contact details.
///
/// # Errors
/// Database errors.
pub async fn patient_contact<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> AppResult<Option<PatientContact>> {
    Ok(patient::Entity::find_by_id(id)
        .filter(patient::Column::DeletedAt.is_null())
        .one(conn)
        .await?
        .map(|p| PatientContact {
            id: p.id,
            hospital: p.hospital_id,
            name_en: format!("{} {}", p.first_name_en, p.last_name_en)
                .trim()
                .to_string(),
            name_ar: format!("{} {}", p.first_name_ar, p.last_name_ar)
                .trim()
                .to_string(),
            phone: p.phone,
            email: p.email,
            preferred_language: p.preferred_language,
            opt_out: p.opt_out,
        }))
}

/// Live patients with this phone number (E.164), for an inbound STOP reply.
///
/// # Errors
/// Database errors.
pub async fn patients_by_phone<C: ConnectionTrait>(conn: &C, phone: &str) -> AppResult<Vec<Uuid>> {
    Ok(patient::Entity::find()
        .filter(patient::Column::Phone.eq(phone))
        .filter(patient::Column::DeletedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// Sets a patient's messaging opt-out; returns whether it changed. The caller audits it.
///
/// # Errors
/// Database errors.
pub async fn set_patient_opt_out<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    id: Uuid,
    opt_out: bool,
) -> AppResult<bool> {
    let r = patient::Entity::update_many()
        .col_expr(
            patient::Column::OptOut,
            sea_orm::sea_query::Expr::value(opt_out),
        )
        .col_expr(
            patient::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(clock.now()),
        )
        .filter(patient::Column::Id.eq(id))
        .filter(patient::Column::OptOut.ne(opt_out))
        .exec(conn)
        .await?;
    Ok(r.rows_affected > 0)
}

/// A hospital's English and Arabic names.
///
/// # Errors
/// Database errors.
pub async fn hospital_names<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> AppResult<Option<(String, String)>> {
    Ok(hospital::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|h| (h.name_en, h.name_ar)))
}
