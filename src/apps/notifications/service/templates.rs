//! Notification templates: the built-in defaults and their administration.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::defaults::DEFAULTS;
use crate::apps::notifications::model::template;
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::ids::new_id;

/// Inserts every built-in template that has no global row of its (code, channel) yet — deleted rows
/// count, so an administrator's deletion sticks. Returns how many were inserted.
///
/// # Errors
/// Database errors.
pub async fn seed_defaults<C: ConnectionTrait>(conn: &C, clock: &dyn Clock) -> AppResult<usize> {
    let existing = template::Entity::find()
        .filter(template::Column::HospitalId.is_null())
        .all(conn)
        .await?;
    let now = clock.now();
    let mut n = 0;
    for (code, channel, description, subject_en, subject_ar, body_en, body_ar) in DEFAULTS {
        if existing
            .iter()
            .any(|t| t.code == *code && t.channel.as_deref() == *channel)
        {
            continue;
        }
        template::Entity::insert(template::ActiveModel {
            id: Set(new_id()),
            code: Set((*code).into()),
            hospital_id: Set(None),
            channel: Set(channel.map(Into::into)),
            description: Set((*description).into()),
            subject_en: Set((*subject_en).into()),
            subject_ar: Set((*subject_ar).into()),
            body_en: Set((*body_en).into()),
            body_ar: Set((*body_ar).into()),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        })
        .exec_without_returning(conn)
        .await?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    #[test]
    fn every_default_template_uses_known_variables_in_both_languages() {
        for (code, _, _, s_en, s_ar, b_en, b_ar) in DEFAULTS {
            for text in [s_en, s_ar, b_en, b_ar] {
                render::check(text).unwrap_or_else(|e| panic!("{code}: {e}"));
            }
            assert_eq!(
                render::variables(b_en).unwrap(),
                render::variables(b_ar).unwrap(),
                "{code}: both languages use the same variables"
            );
        }
    }
}
