//! Delivery backends, from the environment (see `docs/notifications.md`). Every channel defaults to
//! `console`, so a laptop or a demo never sends anything real.

use crate::config::{ConfigError, Source};
use crate::platform::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a local relay or a test sink only).
    None,
    /// STARTTLS upgrade (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
    /// `From:` header, e.g. `PX360 <no-reply@hospital.sa>`.
    pub from: String,
    pub timeout_secs: u64,
}

/// An HTTP SMS or WhatsApp gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub url: String,
    /// Sent as the `Authorization` header value (e.g. `Bearer …` or `Basic …`), when set.
    pub auth: Option<Secret<String>>,
    /// The request body with `{to}`, `{body}` and `{message_id}` placeholders (values are JSON-escaped
    /// when the content type is JSON, form-encoded otherwise).
    pub body_template: String,
    pub content_type: String,
    /// JSON pointer to the provider's message id in the response (e.g. `/id`, `/messages/0/id`).
    pub id_pointer: String,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub enum Backend<T> {
    Console,
    Real(T),
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub email: Backend<SmtpConfig>,
    pub sms: Backend<GatewayConfig>,
    pub whatsapp: Backend<GatewayConfig>,
    /// Delivery attempts before a message is FAILED (the job's retries, with the worker's backoff).
    pub max_attempts: i32,
    /// Shared secrets the gateways send in `X-PX360-Webhook-Secret` on inbound webhooks (STOP replies,
    /// delivery receipts): `PX360_SMS_INBOUND_SECRET`, `PX360_WHATSAPP_INBOUND_SECRET`. A gateway
    /// without one has its inbound webhook refused.
    pub sms_inbound_secret: Option<Secret<String>>,
    pub whatsapp_inbound_secret: Option<Secret<String>>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            email: Backend::Console,
            sms: Backend::Console,
            whatsapp: Backend::Console,
            max_attempts: 5,
            sms_inbound_secret: None,
            whatsapp_inbound_secret: None,
        }
    }
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

const DEFAULT_BODY: &str = r#"{"to": "{to}", "text": "{body}", "reference": "{message_id}"}"#;

impl NotifyConfig {
    /// # Errors
    /// A [`ConfigError`] naming the first bad variable.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        let email = match src
            .get("PX360_EMAIL_BACKEND")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("console") => Backend::Console,
            Some("smtp") => Backend::Real(smtp(src)?),
            Some(v) => {
                return Err(err(
                    "PX360_EMAIL_BACKEND",
                    format!("'{v}' is not one of: console, smtp"),
                ));
            }
        };
        let sms = gateway(
            src,
            "PX360_SMS_BACKEND",
            [
                "PX360_SMS_GATEWAY_URL",
                "PX360_SMS_GATEWAY_AUTH",
                "PX360_SMS_GATEWAY_BODY",
                "PX360_SMS_GATEWAY_CONTENT_TYPE",
                "PX360_SMS_GATEWAY_ID_POINTER",
            ],
        )?;
        let whatsapp = gateway(
            src,
            "PX360_WHATSAPP_BACKEND",
            [
                "PX360_WHATSAPP_GATEWAY_URL",
                "PX360_WHATSAPP_GATEWAY_AUTH",
                "PX360_WHATSAPP_GATEWAY_BODY",
                "PX360_WHATSAPP_GATEWAY_CONTENT_TYPE",
                "PX360_WHATSAPP_GATEWAY_ID_POINTER",
            ],
        )?;
        let max_attempts = match src.get("PX360_NOTIFY_MAX_ATTEMPTS") {
            None => 5,
            Some(v) => match v.trim().parse::<i32>() {
                Ok(n) if (1..=20).contains(&n) => n,
                _ => {
                    return Err(err(
                        "PX360_NOTIFY_MAX_ATTEMPTS",
                        format!("'{v}' is not a whole number in 1..=20"),
                    ));
                }
            },
        };
        Ok(Self {
            email,
            sms,
            whatsapp,
            max_attempts,
            sms_inbound_secret: src.get("PX360_SMS_INBOUND_SECRET").map(Secret::new),
            whatsapp_inbound_secret: src.get("PX360_WHATSAPP_INBOUND_SECRET").map(Secret::new),
        })
    }
}

fn smtp(src: &dyn Source) -> Result<SmtpConfig, ConfigError> {
    let host = src.get("PX360_SMTP_HOST").ok_or_else(|| {
        err(
            "PX360_SMTP_HOST",
            "is required when PX360_EMAIL_BACKEND=smtp",
        )
    })?;
    let tls = match src
        .get("PX360_SMTP_TLS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(v) => {
            return Err(err(
                "PX360_SMTP_TLS",
                format!("'{v}' is not one of: starttls, tls, none"),
            ));
        }
    };
    let default_port = match tls {
        SmtpTls::Tls => "465",
        SmtpTls::StartTls => "587",
        SmtpTls::None => "25",
    };
    let port_raw = src
        .get("PX360_SMTP_PORT")
        .unwrap_or_else(|| default_port.into());
    let port = port_raw
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| err("PX360_SMTP_PORT", format!("'{port_raw}' is not a port")))?;
    let from = src
        .get("PX360_SMTP_FROM")
        .unwrap_or_else(|| "PX360 <no-reply@localhost>".into());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(err(
            "PX360_SMTP_FROM",
            format!("'{from}' is not a mailbox such as PX360 <no-reply@hospital.sa>"),
        ));
    }
    Ok(SmtpConfig {
        host,
        port,
        tls,
        username: src.get("PX360_SMTP_USERNAME"),
        password: src.get("PX360_SMTP_PASSWORD").map(Secret::new),
        from,
        timeout_secs: 20,
    })
}

fn gateway(
    src: &dyn Source,
    backend_var: &'static str,
    [url_var, auth_var, body_var, ct_var, id_var]: [&'static str; 5],
) -> Result<Backend<GatewayConfig>, ConfigError> {
    match src
        .get(backend_var)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("console") => Ok(Backend::Console),
        Some("http") => {
            let url = src
                .get(url_var)
                .ok_or_else(|| err(url_var, format!("is required when {backend_var}=http")))?;
            url::Url::parse(&url)
                .map_err(|e| err(url_var, format!("'{url}' is not a URL: {e}")))?;
            let body_template = src.get(body_var).unwrap_or_else(|| DEFAULT_BODY.into());
            if !body_template.contains("{body}") || !body_template.contains("{to}") {
                return Err(err(body_var, "must contain {to} and {body}"));
            }
            Ok(Backend::Real(GatewayConfig {
                url,
                auth: src.get(auth_var).map(Secret::new),
                body_template,
                content_type: src.get(ct_var).unwrap_or_else(|| "application/json".into()),
                id_pointer: src.get(id_var).unwrap_or_else(|| "/id".into()),
                timeout_secs: 15,
            }))
        }
        Some(v) => Err(err(
            backend_var,
            format!("'{v}' is not one of: console, http"),
        )),
    }
}

impl NotifyConfig {
    /// The inbound secret of a gateway (`sms` or `whatsapp`), when one is configured.
    pub fn inbound_secret(&self, gateway: &str) -> Option<&Secret<String>> {
        match gateway {
            "sms" => self.sms_inbound_secret.as_ref(),
            "whatsapp" => self.whatsapp_inbound_secret.as_ref(),
            _ => None,
        }
    }
}
