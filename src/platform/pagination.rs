//! DRF-style lists, once for every resource: `?page=&page_size=` (max 200), `?search=`, `?ordering=`
//! (comma-separated, `-` for descending) and declared field filters; the answer is
//! `{"count", "next", "previous", "results"}`. A resource declares a [`ListSpec`]; a handler extracts a
//! [`ListQuery`] and calls [`paginate`] on a scoped `Select`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::Serialize;
use uuid::Uuid;

use crate::platform::error::{AppError, AppResult, FieldErrors};

pub const DEFAULT_PAGE_SIZE: u64 = 25;
pub const MAX_PAGE_SIZE: u64 = 200;

/// The list parameters of a request, validated.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub page: u64,
    pub page_size: u64,
    pub search: Option<String>,
    /// (field name, descending)
    pub ordering: Vec<(String, bool)>,
    /// Every other query parameter, in order; resources pick the ones they declare.
    pub params: Vec<(String, String)>,
    path: String,
}

impl ListQuery {
    /// Parses a query string (without `?`) for the list at `path`.
    ///
    /// # Errors
    /// 400 naming `page` or `page_size` when they are not positive whole numbers.
    pub fn parse(path: &str, query: &str) -> AppResult<Self> {
        let mut q = ListQuery {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            path: path.to_string(),
            ..Default::default()
        };
        let mut errors = FieldErrors::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "page" => match v.parse::<u64>() {
                    Ok(n) if n >= 1 => q.page = n,
                    _ => errors.add("page", "A valid page number (1 or more) is required."),
                },
                "page_size" => match v.parse::<u64>() {
                    // DRF clamps to the maximum instead of refusing.
                    Ok(n) if n >= 1 => q.page_size = Ord::min(n, MAX_PAGE_SIZE),
                    _ => errors.add(
                        "page_size",
                        format!("A page size from 1 to {MAX_PAGE_SIZE} is required."),
                    ),
                },
                "search" => {
                    let s = v.trim();
                    if !s.is_empty() {
                        q.search = Some(s.to_string());
                    }
                }
                "ordering" => {
                    q.ordering = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| match s.strip_prefix('-') {
                            Some(f) => (f.to_string(), true),
                            None => (s.to_string(), false),
                        })
                        .collect();
                }
                _ => q.params.push((k.into_owned(), v.into_owned())),
            }
        }
        errors.into_result()?;
        Ok(q)
    }

    /// The value of a declared filter parameter, if given and not blank.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    fn link(&self, page: u64) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            ser.append_pair(k, v);
        }
        if let Some(s) = &self.search {
            ser.append_pair("search", s);
        }
        if !self.ordering.is_empty() {
            let o: Vec<String> = self
                .ordering
                .iter()
                .map(|(f, d)| if *d { format!("-{f}") } else { f.clone() })
                .collect();
            ser.append_pair("ordering", &o.join(","));
        }
        if self.page_size != DEFAULT_PAGE_SIZE {
            ser.append_pair("page_size", &self.page_size.to_string());
        }
        ser.append_pair("page", &page.to_string());
        format!("{}?{}", self.path, ser.finish())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ListQuery::parse(parts.uri.path(), parts.uri.query().unwrap_or(""))
    }
}

/// How a declared filter parses its value.
#[derive(Debug, Clone, Copy)]
pub enum FilterKind {
    /// Exact text match.
    Text,
    Uuid,
    Bool,
    Int,
    /// One of the listed UPPER_SNAKE values; several may be given comma-separated.
    Choice(&'static [&'static str]),
    /// `column >= value` (date or RFC 3339 time).
    From,
    /// `column <= value` (a bare date means the end of that day).
    To,
}

pub struct Filter<C> {
    pub name: &'static str,
    pub column: C,
    pub kind: FilterKind,
}

/// Declares what a list can be searched, ordered and filtered by.
pub struct ListSpec<E: EntityTrait> {
    pub search: Vec<E::Column>,
    pub ordering: Vec<(&'static str, E::Column)>,
    /// Applied when the client asks for no ordering, and always as the final tie-breaker.
    pub default_ordering: Vec<(E::Column, Order)>,
    pub filters: Vec<Filter<E::Column>>,
}

/// One page of results in DRF's shape.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            next: self.next,
            previous: self.previous,
            results: self.results.into_iter().map(f).collect(),
        }
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn parse_time(v: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_micro_opt(23, 59, 59, 999_999)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(t.and_utc())
}

/// Applies search, filters and ordering from `q` to `select` as `spec` allows.
///
/// # Errors
/// 400 naming the parameter for an unknown ordering field or a filter value of the wrong form.
pub fn apply<E: EntityTrait>(
    mut select: Select<E>,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> AppResult<Select<E>> {
    let mut errors = FieldErrors::new();

    if let (Some(term), false) = (&q.search, spec.search.is_empty()) {
        let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
        let mut any = sea_orm::Condition::any();
        for c in &spec.search {
            any = any.add(
                Expr::expr(Func::lower(Expr::col((E::default(), *c))))
                    .like(LikeExpr::new(pattern.clone()).escape('\\')),
            );
        }
        select = select.filter(any);
    }

    for f in &spec.filters {
        let Some(raw) = q.param(f.name) else { continue };
        let raw = raw.trim();
        match f.kind {
            FilterKind::Text => select = select.filter(f.column.eq(raw)),
            FilterKind::Uuid => match Uuid::parse_str(raw) {
                Ok(u) => select = select.filter(f.column.eq(u)),
                Err(_) => errors.add(f.name, format!("\"{raw}\" is not a valid UUID.")),
            },
            FilterKind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => select = select.filter(f.column.eq(true)),
                "false" | "0" => select = select.filter(f.column.eq(false)),
                _ => errors.add(f.name, "Must be true or false."),
            },
            FilterKind::Int => match raw.parse::<i64>() {
                Ok(n) => select = select.filter(f.column.eq(n)),
                Err(_) => errors.add(f.name, "A whole number is required."),
            },
            FilterKind::Choice(allowed) => {
                let values: Vec<String> = raw
                    .split(',')
                    .map(|v| v.trim().to_ascii_uppercase())
                    .filter(|v| !v.is_empty())
                    .collect();
                let bad: Vec<&String> = values
                    .iter()
                    .filter(|v| !allowed.contains(&v.as_str()))
                    .collect();
                if bad.is_empty() {
                    select = select.filter(f.column.is_in(values));
                } else {
                    errors.add(
                        f.name,
                        format!(
                            "\"{}\" is not a valid choice; allowed: {}",
                            bad.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            allowed.join(", ")
                        ),
                    );
                }
            }
            FilterKind::From => match parse_time(raw, false) {
                Some(t) => select = select.filter(f.column.gte(t)),
                None => errors.add(f.name, "Use a date (YYYY-MM-DD) or an RFC 3339 time."),
            },
            FilterKind::To => match parse_time(raw, true) {
                Some(t) => select = select.filter(f.column.lte(t)),
                None => errors.add(f.name, "Use a date (YYYY-MM-DD) or an RFC 3339 time."),
            },
        }
    }

    for (name, desc) in &q.ordering {
        match spec.ordering.iter().find(|(n, _)| n == name) {
            Some((_, col)) => {
                select = select.order_by(*col, if *desc { Order::Desc } else { Order::Asc });
            }
            None => errors.add(
                "ordering",
                format!(
                    "\"{name}\" is not an ordering field; allowed: {}",
                    spec.ordering
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    for (col, ord) in &spec.default_ordering {
        select = select.order_by(*col, ord.clone());
    }
    errors.into_result()?;
    Ok(select)
}

/// Runs the list: count, then the requested page.
///
/// # Errors
/// 400 for bad parameters (see [`apply`]), 404 `Invalid page.` past the last page, database errors.
pub async fn paginate<E, C>(
    conn: &C,
    select: Select<E>,
    spec: &ListSpec<E>,
    q: &ListQuery,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    let select = apply(select, spec, q)?;
    let count = select.clone().count(conn).await?;
    let last_page = Ord::max(count.div_ceil(q.page_size), 1);
    if q.page > last_page {
        return Err(AppError::NotFoundDetail("Invalid page.".into()));
    }
    let results = select
        .offset((q.page - 1) * q.page_size)
        .limit(q.page_size)
        .all(conn)
        .await?;
    Ok(Page {
        count,
        next: (q.page < last_page).then(|| q.link(q.page + 1)),
        previous: (q.page > 1).then(|| q.link(q.page - 1)),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::clock::TestClock;
    use crate::platform::jobs::{self, NewJob, model};
    use migration::MigratorTrait;
    use sea_orm::Database;

    async fn db_with_jobs(n: usize) -> sea_orm::DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        migration::Migrator::up(&db, None).await.unwrap();
        let clock = TestClock::starting_now();
        for i in 0..n {
            let kind = if i % 3 == 0 {
                "report.build"
            } else {
                "sms.send"
            };
            jobs::enqueue(
                &db,
                &clock,
                NewJob::new(kind, serde_json::json!({ "i": i })),
            )
            .await
            .unwrap();
            clock.advance(chrono::Duration::seconds(1));
        }
        db
    }

    fn spec() -> ListSpec<model::Entity> {
        ListSpec {
            search: vec![model::Column::Kind],
            ordering: vec![
                ("run_at", model::Column::RunAt),
                ("kind", model::Column::Kind),
            ],
            default_ordering: vec![(model::Column::Id, Order::Asc)],
            filters: vec![
                Filter {
                    name: "status",
                    column: model::Column::Status,
                    kind: FilterKind::Choice(&["PENDING", "RUNNING", "DONE", "DEAD"]),
                },
                Filter {
                    name: "kind",
                    column: model::Column::Kind,
                    kind: FilterKind::Text,
                },
                Filter {
                    name: "run_after",
                    column: model::Column::RunAt,
                    kind: FilterKind::From,
                },
            ],
        }
    }

    #[tokio::test]
    async fn pages_have_count_and_links() {
        let db = db_with_jobs(60).await;
        let q = ListQuery::parse("/api/x/", "page=2&page_size=25&ordering=-run_at").unwrap();
        let p = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap();
        assert_eq!(p.count, 60);
        assert_eq!(p.results.len(), 25);
        assert_eq!(p.next.as_deref(), Some("/api/x/?ordering=-run_at&page=3"));
        assert_eq!(
            p.previous.as_deref(),
            Some("/api/x/?ordering=-run_at&page=1")
        );
        assert!(p.results[0].run_at > p.results[24].run_at);
    }

    #[tokio::test]
    async fn search_and_filters_narrow_the_list() {
        let db = db_with_jobs(30).await;
        let q = ListQuery::parse("/", "search=REPORT&status=pending").unwrap();
        let p = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap();
        assert_eq!(p.count, 10);
        let q = ListQuery::parse("/", "kind=sms.send").unwrap();
        let p = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap();
        assert_eq!(p.count, 20);
        let q = ListQuery::parse("/", "status=DONE").unwrap();
        let p = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap();
        assert_eq!(p.count, 0);
    }

    #[tokio::test]
    async fn like_wildcards_in_search_are_literal() {
        let db = db_with_jobs(5).await;
        let q = ListQuery::parse("/", "search=%25").unwrap();
        let p = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap();
        assert_eq!(p.count, 0);
    }

    #[tokio::test]
    async fn bad_parameters_are_400_naming_the_parameter() {
        let db = db_with_jobs(3).await;
        let bad = |qs: &str| ListQuery::parse("/", qs);
        assert!(bad("page=0").unwrap_err().body().get("page").is_some());
        assert!(
            bad("page_size=x")
                .unwrap_err()
                .body()
                .get("page_size")
                .is_some()
        );
        for qs in ["ordering=secret", "status=NOPE", "run_after=yesterday"] {
            let q = bad(qs).unwrap();
            let e = paginate(&db, model::Entity::find(), &spec(), &q)
                .await
                .unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{qs}");
        }
        let q = bad("status=NOPE").unwrap();
        let e = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap_err();
        let msg = e.body()["status"][0].as_str().unwrap().to_string();
        assert!(
            msg.contains("allowed: PENDING, RUNNING, DONE, DEAD"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn page_size_is_capped_and_a_page_past_the_end_is_404() {
        let db = db_with_jobs(3).await;
        let q = ListQuery::parse("/", "page_size=5000").unwrap();
        assert_eq!(q.page_size, MAX_PAGE_SIZE);
        let q = ListQuery::parse("/", "page=2").unwrap();
        let e = paginate(&db, model::Entity::find(), &spec(), &q)
            .await
            .unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::NOT_FOUND);
        assert_eq!(e.body()["detail"], "Invalid page.");
    }
}
