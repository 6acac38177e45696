//! The resource pattern: a module declares each model once — columns, filters, form fields, what it
//! allows — and gets list (server-side paging, sorting, filters, search, column toggles, htmx
//! updates), detail, create/edit forms with messages beside each field, soft delete with
//! confirmation, bulk delete, CSV/XLSX export of the filtered list, a PDF summary, saved filters and,
//! when it opts in, CSV/XLSX import. All of it goes through the module's own service functions
//! ([`Ops`]), so the console shows exactly what the API would: same scope, same validation, same
//! audit.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::platform::error::AppResult;
use crate::platform::pagination::{ListQuery, Page};
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;

/// The service calls behind a resource, over JSON values (the API's wire shapes).
#[async_trait]
pub trait Ops: Send + Sync {
    async fn list(&self, s: &AppState, p: &Principal, q: &ListQuery) -> AppResult<Page<Value>>;
    async fn get(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<Value>;
    async fn create(&self, s: &AppState, p: &Principal, body: Value) -> AppResult<Value>;
    async fn update(&self, s: &AppState, p: &Principal, id: Uuid, body: Value) -> AppResult<Value>;
    async fn delete(&self, s: &AppState, p: &Principal, id: Uuid) -> AppResult<()>;
}

/// Reads a request body the way the API's `ApiJson` would, so a form and a JSON client get the same
/// field messages.
///
/// # Errors
/// 400 naming the field whose value has the wrong type.
pub fn from_body<T: serde::de::DeserializeOwned>(body: Value) -> AppResult<T> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        crate::platform::error::AppError::field(
            if field == "." {
                "non_field_errors".into()
            } else {
                field
            },
            "Invalid value.",
        )
    })
}

/// Implements [`Ops`] for a module whose service has the usual five functions
/// (`list`, `get`, `create`, `update(.., Mode::Patch)`, `delete`).
#[macro_export]
macro_rules! service_ops {
    ($name:ident, $svc:path, $In:ty, $mode:expr) => {
        pub struct $name;
        #[async_trait::async_trait]
        impl $crate::platform::ui::resource::Ops for $name {
            async fn list(
                &self,
                s: &$crate::platform::state::AppState,
                p: &$crate::platform::rbac::Principal,
                q: &$crate::platform::pagination::ListQuery,
            ) -> $crate::platform::error::AppResult<
                $crate::platform::pagination::Page<serde_json::Value>,
            > {
                use $svc as svc;
                let page = svc::list(s, p, q).await?;
                Ok(page.map(|o| serde_json::to_value(o).unwrap_or_default()))
            }
            async fn get(
                &self,
                s: &$crate::platform::state::AppState,
                p: &$crate::platform::rbac::Principal,
                id: uuid::Uuid,
            ) -> $crate::platform::error::AppResult<serde_json::Value> {
                use $svc as svc;
                Ok(serde_json::to_value(svc::get(s, p, id).await?).unwrap_or_default())
            }
            async fn create(
                &self,
                s: &$crate::platform::state::AppState,
                p: &$crate::platform::rbac::Principal,
                body: serde_json::Value,
            ) -> $crate::platform::error::AppResult<serde_json::Value> {
                use $svc as svc;
                let input: $In = $crate::platform::ui::resource::from_body(body)?;
                Ok(serde_json::to_value(svc::create(s, p, input).await?).unwrap_or_default())
            }
            async fn update(
                &self,
                s: &$crate::platform::state::AppState,
                p: &$crate::platform::rbac::Principal,
                id: uuid::Uuid,
                body: serde_json::Value,
            ) -> $crate::platform::error::AppResult<serde_json::Value> {
                use $svc as svc;
                let input: $In = $crate::platform::ui::resource::from_body(body)?;
                Ok(
                    serde_json::to_value(svc::update(s, p, id, input, $mode).await?)
                        .unwrap_or_default(),
                )
            }
            async fn delete(
                &self,
                s: &$crate::platform::state::AppState,
                p: &$crate::platform::rbac::Principal,
                id: uuid::Uuid,
            ) -> $crate::platform::error::AppResult<()> {
                use $svc as svc;
                svc::delete(s, p, id).await
            }
        }
    };
}

/// How a value is shown in a list cell or on a detail page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A code or identifier, shown monospaced.
    Code,
    /// `<key>_en` / `<key>_ar`: the page language's one.
    Bilingual,
    Bool,
    /// An UPPER_SNAKE value shown through the catalog (`choice.<VALUE>`) as a badge.
    Choice,
    DateTime,
    Date,
    Number,
    /// A foreign key shown by the named [`super::registry::RefSource`]'s label.
    Ref(&'static str),
    /// A list of strings.
    List,
    /// A JSON object, pretty-printed (detail pages only).
    Json,
}

#[derive(Debug, Clone)]
pub struct Col {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// The `?ordering=` name when sortable.
    pub sort: Option<&'static str>,
    /// Hidden until the user switches it on in the column menu.
    pub optional: bool,
}

impl Col {
    pub fn new(key: &'static str, label: &'static str, kind: Kind) -> Self {
        Self {
            key,
            label,
            kind,
            sort: None,
            optional: false,
        }
    }

    pub fn sort(mut self, by: &'static str) -> Self {
        self.sort = Some(by);
        self
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// A form control.
#[derive(Debug, Clone)]
pub enum Input {
    Text {
        max: usize,
    },
    TextArea,
    Email,
    Phone,
    Password,
    Date,
    Time,
    Number {
        min: i64,
        max: i64,
    },
    Checkbox,
    Select(&'static [&'static str]),
    /// A foreign key with Tom Select remote search over the named source.
    Ref(&'static str),
    /// Several values from a fixed list (checkboxes), sent as an array.
    Multi(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    /// Blank is sent as `null` rather than `""`.
    pub nullable: bool,
    pub help: Option<&'static str>,
    /// Only on the create form (e.g. a hospital that cannot change later).
    pub create_only: bool,
    /// For `Ref` inputs: narrow the search by the current value of another field (`hospital`).
    pub within: Option<&'static str>,
}

impl Field {
    pub fn new(key: &'static str, label: &'static str, input: Input) -> Self {
        let nullable = matches!(
            input,
            Input::Email | Input::Phone | Input::Date | Input::Ref(_)
        );
        Self {
            key,
            label,
            input,
            required: false,
            nullable,
            help: None,
            create_only: false,
            within: None,
        }
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn help(mut self, key: &'static str) -> Self {
        self.help = Some(key);
        self
    }

    pub fn create_only(mut self) -> Self {
        self.create_only = true;
        self
    }

    pub fn within(mut self, other: &'static str) -> Self {
        self.within = Some(other);
        self
    }
}

/// A filter in the filters panel; its key is the list's query parameter.
#[derive(Debug, Clone)]
pub struct FilterDef {
    pub key: &'static str,
    pub label: &'static str,
    pub input: Input,
}

impl FilterDef {
    pub fn new(key: &'static str, label: &'static str, input: Input) -> Self {
        Self { key, label, input }
    }
}

/// How one object is named in titles and breadcrumbs.
#[derive(Debug, Clone, Copy)]
pub enum Label {
    /// A single field.
    Key(&'static str),
    /// A bilingual pair `<key>_en` / `<key>_ar`.
    Bilingual(&'static str),
    /// Two bilingual pairs joined (first and last name).
    Name(&'static str, &'static str),
}

/// A button on the detail page leading to a related page (e.g. a hospital's settings).
#[derive(Debug, Clone)]
pub struct Link {
    pub label: &'static str,
    pub icon: &'static str,
    /// `{id}` is replaced by the object's id.
    pub href: &'static str,
    pub resource: Resource,
    pub op: Operation,
}

/// What the console offers for a resource (each still subject to the user's permissions).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub create: bool,
    pub edit: bool,
    pub delete: bool,
    pub export: bool,
    pub pdf: bool,
    pub import: bool,
}

impl Caps {
    pub const ALL: Caps = Caps {
        create: true,
        edit: true,
        delete: true,
        export: true,
        pdf: true,
        import: false,
    };
    pub const READ_ONLY: Caps = Caps {
        create: false,
        edit: false,
        delete: false,
        export: true,
        pdf: true,
        import: false,
    };
}

pub struct ResourceDef {
    /// URL segment of the module (`organizations`).
    pub module: &'static str,
    /// URL segment of the resource (`patients`).
    pub slug: &'static str,
    pub resource: Resource,
    /// Catalog keys: plural title and singular noun.
    pub title: &'static str,
    pub singular: &'static str,
    pub icon: &'static str,
    pub columns: Vec<Col>,
    pub filters: Vec<FilterDef>,
    pub fields: Vec<Field>,
    pub detail: Vec<Col>,
    pub label: Label,
    pub caps: Caps,
    pub links: Vec<Link>,
    /// Included in the topbar's global search.
    pub searchable: bool,
    /// The module serves `<base>{id}/` itself (a detail page with more than fields).
    pub own_detail: bool,
    /// The module serves `<base>new/` itself.
    pub own_create: bool,
    /// CSV/XLSX import (with `caps.import`).
    pub importer: Option<Arc<dyn super::imports::Importer>>,
    pub ops: Arc<dyn Ops>,
}

impl ResourceDef {
    /// `organizations/patients`: the key of saved views and of the registry.
    pub fn key(&self) -> String {
        format!("{}/{}", self.module, self.slug)
    }

    /// `/organizations/patients/`
    pub fn base(&self) -> String {
        format!("/{}/{}/", self.module, self.slug)
    }

    pub fn href(&self, id: Uuid) -> String {
        format!("/{}/{}/{id}/", self.module, self.slug)
    }

    /// The display name of one object.
    pub fn name_of(&self, v: &Value, lang: crate::platform::i18n::Lang) -> String {
        use crate::platform::i18n::Lang;
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let bi = |k: &str| {
            let (a, b) = match lang {
                Lang::Ar => (format!("{k}_ar"), format!("{k}_en")),
                Lang::En => (format!("{k}_en"), format!("{k}_ar")),
            };
            let first = s(&a);
            if first.is_empty() { s(&b) } else { first }
        };
        let name = match self.label {
            Label::Key(k) => s(k),
            Label::Bilingual(k) => bi(k),
            Label::Name(a, b) => format!("{} {}", bi(a), bi(b)).trim().to_string(),
        };
        if name.is_empty() {
            v.get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        } else {
            name
        }
    }
}
