//! The OpenAPI document (3.1, generated from the routes) and its security schemes.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PX360 API",
        description = "Patient Experience 360: journeys, surveys, complaints and improvement actions. \
                       Lists follow DRF conventions (page, page_size ≤ 200, search, ordering); errors are \
                       `{\"field\": [..]}` or `{\"detail\": \"..\"}`.",
    ),
    modifiers(&Security),
    tags(
        (name = "platform", description = "Health and operations"),
        (name = "organizations", description = "Hospitals and their settings, departments, physicians, employees, patients"),
        (name = "journeys", description = "Journey templates and stages, instances per encounter, progress and simulation"),
        (name = "integrations", description = "Inbound events (JSON, HL7 v2, FHIR R4), event mappings, integration configs"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}
