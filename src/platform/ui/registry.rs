//! What the console is made of, assembled once in `startup.rs`: every module's resources (the
//! resource pattern), the sidebar, the sources of foreign-key labels and look-ups, and the few facts
//! about users and hospitals the layout needs ([`Directory`]). Platform code never names a module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use chrono_tz::Tz;
use uuid::Uuid;

use super::ctx::{NAV_COUNT_TTL, NavLink, NavSection};
use super::resource::ResourceDef;
use crate::platform::error::AppResult;
use crate::platform::i18n::{self, Lang};
use crate::platform::pagination::ListQuery;
use crate::platform::rbac::{Operation, Principal, Resource};
use crate::platform::state::AppState;

/// The signed-in user as the layout shows them.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub email: String,
    pub name_en: String,
    pub name_ar: String,
    pub preferred_language: Option<Lang>,
}

/// Facts the console needs from accounts and organizations, provided by them through `startup.rs`.
#[async_trait]
pub trait Directory: Send + Sync {
    async fn profile(&self, s: &AppState, user: Uuid) -> AppResult<Profile>;
    async fn set_language(&self, s: &AppState, user: Uuid, lang: Lang) -> AppResult<()>;
    /// The time zone the user's pages are shown in (their hospital's).
    async fn timezone(&self, s: &AppState, p: &Principal) -> Tz;
}

/// Labels and look-ups for one kind of foreign key (`hospital`, `department`, `user`, …).
#[async_trait]
pub trait RefSource: Send + Sync {
    /// Display names of rows the caller can already see (ids come from a scoped list or detail).
    async fn labels(
        &self,
        s: &AppState,
        ids: &[Uuid],
        lang: Lang,
    ) -> AppResult<HashMap<Uuid, String>>;
    /// Up to 20 matches for a search in the caller's scope (Tom Select's remote search). `within`
    /// narrows to a parent (e.g. departments of a hospital).
    async fn search(
        &self,
        s: &AppState,
        p: &Principal,
        q: &str,
        within: &[(String, String)],
        lang: Lang,
    ) -> AppResult<Vec<(Uuid, String)>>;

    /// The row with this code (e.g. a hospital code, or a department code within the hospital
    /// `within`) in the caller's scope, for imports that name references by code.
    async fn by_code(
        &self,
        _s: &AppState,
        _p: &Principal,
        _code: &str,
        _within: &str,
    ) -> AppResult<Option<Uuid>> {
        Ok(None)
    }
}

/// One sidebar link.
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub icon: &'static str,
    pub resource: Resource,
    pub op: Operation,
    /// Show the number of rows the user can see (the resource's own scoped list).
    pub count: Option<&'static str>,
}

pub struct NavGroup {
    pub label: &'static str,
    pub items: Vec<NavItem>,
}

/// (user, resource key) → (when counted, rows)
type CountCache = HashMap<(Uuid, &'static str), (Instant, u64)>;

pub struct Registry {
    pub resources: Vec<Arc<ResourceDef>>,
    pub nav: Vec<NavGroup>,
    pub refs: HashMap<&'static str, Arc<dyn RefSource>>,
    pub directory: Arc<dyn Directory>,
    /// Resource keys whose module serves the list page itself (`<base>`), e.g. with bulk actions of
    /// its own; the rest of the resource's routes stay generic.
    pub own_lists: Vec<&'static str>,
    counts: Mutex<CountCache>,
}

impl Registry {
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        Self {
            resources: vec![],
            nav: vec![],
            refs: HashMap::new(),
            directory,
            own_lists: vec![],
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn resource(&mut self, def: ResourceDef) -> Arc<ResourceDef> {
        let d = Arc::new(def);
        self.resources.push(d.clone());
        d
    }

    pub fn find(&self, key: &str) -> Option<Arc<ResourceDef>> {
        self.resources.iter().find(|d| d.key() == key).cloned()
    }

    pub fn reference(&mut self, name: &'static str, src: Arc<dyn RefSource>) {
        self.refs.insert(name, src);
    }

    /// The number of `key` rows `p` can see, counted at most every [`NAV_COUNT_TTL`].
    pub async fn count(&self, s: &AppState, p: &Principal, key: &'static str) -> Option<u64> {
        let now = Instant::now();
        if let Ok(cache) = self.counts.lock()
            && let Some((at, n)) = cache.get(&(p.user_id, key))
            && now.duration_since(*at) < NAV_COUNT_TTL
        {
            return Some(*n);
        }
        let def = self.find(key)?;
        let mut q = ListQuery::parse(&def.base(), "page_size=1").ok()?;
        q.params.clear();
        let n = match def.ops.list(s, p, &q).await {
            Ok(page) => page.count,
            Err(e) => {
                tracing::debug!(error = %e, key, "sidebar count unavailable");
                return None;
            }
        };
        if let Ok(mut cache) = self.counts.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert((p.user_id, key), (now, n));
        }
        Some(n)
    }

    /// Forgets cached counts after a write, so the sidebar is right on the next page.
    pub fn invalidate_counts(&self) {
        if let Ok(mut cache) = self.counts.lock() {
            cache.clear();
        }
    }

    /// The sidebar for `p`: only links whose resource it may open.
    pub async fn nav_for(
        &self,
        s: &AppState,
        p: &Principal,
        lang: Lang,
        path: &str,
    ) -> Vec<NavSection> {
        let mut out = vec![];
        for g in &self.nav {
            let mut links = vec![];
            for item in &g.items {
                if !p.can(item.resource, item.op) {
                    continue;
                }
                let count = match item.count {
                    Some(key) => self
                        .count(s, p, key)
                        .await
                        .map(|n| i18n::number(lang, n as i64)),
                    None => None,
                };
                let active = if item.href == "/" {
                    path == "/"
                } else {
                    path.starts_with(item.href)
                };
                links.push(NavLink {
                    label: i18n::t(lang, item.label).to_string(),
                    href: item.href.to_string(),
                    icon: item.icon,
                    count,
                    active,
                });
            }
            if !links.is_empty() {
                out.push(NavSection {
                    label: i18n::t(lang, g.label).to_string(),
                    links,
                });
            }
        }
        out
    }
}
