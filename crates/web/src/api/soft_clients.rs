//! The servers soft clients learn of (docs/soft-clients.md): presence subclusters, proxy
//! profiles, CTI gateway servers and profiles (each keyed by its name or id, with the same five
//! endpoints), the settings every soft client shares, rehoming users and CTI gateway servers
//! made from the call-control systems. A record is answered with its fields, `id`, `version`,
//! `created_at`, `updated_at`, and who uses it (`users`, or for a CTI gateway server `used_by`).

use super::*;
use model::dial_rules::{DialResult, DialRuleSpec, DialTest};
use model::soft_client::{
    ClientKind, CtiFromSystems, CtiGatewayProfileSpec, CtiGatewayServerSpec,
    PresenceSubclusterSpec, ProxyProfileSpec, Rehome, Rehomed, SoftClientSettings,
};
use serde_json::Value as Json_;

/// A record of the kind `T` describes, as the API answers it: `T`'s fields and the record's own
/// (`id`, `version`, `created_at`, `updated_at`, and who uses it: how many `users`, or which
/// profiles, `used_by`). `T`
/// refuses unknown fields in a request; its answer has these more (found by schemathesis).
pub(super) struct Stored<T>(std::marker::PhantomData<T>);

// utoipa's derive implements `ComposeSchema` (its path and generic machinery asks for it) and
// `PartialSchema` follows from it; a schema built by hand has to take the same road.
impl<T: utoipa::ToSchema> utoipa::__dev::ComposeSchema for Stored<T> {
    fn compose(
        _generics: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
        use utoipa::openapi::{KnownFormat, RefOr};
        let mut s = T::schema();
        if let RefOr::T(Schema::Object(o)) = &mut s {
            o.additional_properties = None;
            let int = || {
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            };
            let text = || ObjectBuilder::new().schema_type(Type::String);
            let names = || ArrayBuilder::new().items(text());
            o.properties.insert("id".into(), int().into());
            o.properties.insert("version".into(), int().into());
            o.properties.insert("created_at".into(), text().into());
            o.properties.insert("updated_at".into(), text().into());
            o.properties.insert(
                "users".into(),
                int()
                    .description(Some(
                        "How many users it serves (presence subclusters, profiles)",
                    ))
                    .into(),
            );
            o.properties.insert(
                "used_by".into(),
                names()
                    .description(Some(
                        "The CTI gateway profiles that name it (CTI gateway servers)",
                    ))
                    .into(),
            );
            for f in ["id", "version", "created_at", "updated_at"] {
                if !o.required.iter().any(|r| r == f) {
                    o.required.push(f.into());
                }
            }
        }
        s
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for Stored<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Stored{}", T::name()).into()
    }
}

macro_rules! client_api {
    ($kind:expr, $spec:ident, $path:literal, $key_path:literal,
     $list:ident, $create:ident, $get:ident, $update:ident, $delete:ident) => {
        /// Finds records; `q` is a prefix of the name.
        #[utoipa::path(get, path = $path, tag = "soft clients", params(ListParams),
            responses((status = 200, body = Page<Stored<$spec>>)))]
        pub(super) async fn $list(
            State(s): State<AppState>,
            _a: Admin,
            Query(q): Query<BTreeMap<String, String>>,
        ) -> ApiResult<Json<Page<Json_>>> {
            let f = find(&q, &[], &["name"])?;
            Ok(Json(s.service.find_client_records($kind, &f).await?))
        }

        #[utoipa::path(post, path = $path, tag = "soft clients", request_body = $spec,
            responses((status = 201, body = inline(Stored<$spec>)), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub(super) async fn $create(
            State(s): State<AppState>,
            Admin(a): Admin,
            Body(b): Body<Json_>,
        ) -> ApiResult<impl IntoResponse> {
            Ok(created(s.service.create_client_record(&a, $kind, b).await?))
        }

        #[utoipa::path(get, path = $key_path, tag = "soft clients", params(("key" = String, Path, description = "name or id")),
            responses((status = 200, body = inline(Stored<$spec>)), (status = 404, body = ErrorBody)))]
        pub(super) async fn $get(
            State(s): State<AppState>,
            _a: Admin,
            Path(key): Path<String>,
        ) -> ApiResult<Json<Json_>> {
            Ok(Json(s.service.client_record($kind, &key).await?))
        }

        /// Changes the fields given (with the `version` read); the others stay.
        #[utoipa::path(patch, path = $key_path, tag = "soft clients", params(("key" = String, Path, description = "name or id")),
            request_body = $spec,
            responses((status = 200, body = inline(Stored<$spec>)), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub(super) async fn $update(
            State(s): State<AppState>,
            Admin(a): Admin,
            Path(key): Path<String>,
            Body(b): Body<Json_>,
        ) -> ApiResult<Json<Json_>> {
            Ok(Json(s.service.update_client_record(&a, $kind, &key, b).await?))
        }

        /// Refused (409) while something uses it.
        #[utoipa::path(delete, path = $key_path, tag = "soft clients", params(("key" = String, Path, description = "name or id")),
            responses((status = 204), (status = 409, body = ErrorBody)))]
        pub(super) async fn $delete(
            State(s): State<AppState>,
            Admin(a): Admin,
            Path(key): Path<String>,
        ) -> ApiResult<StatusCode> {
            s.service.delete_client_record(&a, $kind, &key).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

client_api!(
    ClientKind::PresenceSubcluster,
    PresenceSubclusterSpec,
    "/api/v1/presence-subclusters",
    "/api/v1/presence-subclusters/{key}",
    list_subclusters,
    create_subcluster,
    get_subcluster,
    update_subcluster,
    delete_subcluster
);
client_api!(
    ClientKind::ProxyProfile,
    ProxyProfileSpec,
    "/api/v1/proxy-profiles",
    "/api/v1/proxy-profiles/{key}",
    list_proxy_profiles,
    create_proxy_profile,
    get_proxy_profile,
    update_proxy_profile,
    delete_proxy_profile
);
client_api!(
    ClientKind::CtiGatewayServer,
    CtiGatewayServerSpec,
    "/api/v1/cti-gateway-servers",
    "/api/v1/cti-gateway-servers/{key}",
    list_cti_servers,
    create_cti_server,
    get_cti_server,
    update_cti_server,
    delete_cti_server
);
client_api!(
    ClientKind::CtiGatewayProfile,
    CtiGatewayProfileSpec,
    "/api/v1/cti-gateway-profiles",
    "/api/v1/cti-gateway-profiles/{key}",
    list_cti_profiles,
    create_cti_profile,
    get_cti_profile,
    update_cti_profile,
    delete_cti_profile
);

client_api!(
    ClientKind::DialRule,
    DialRuleSpec,
    "/api/v1/dial-rules",
    "/api/v1/dial-rules/{key}",
    list_dial_rules,
    create_dial_rule,
    get_dial_rule,
    update_dial_rule,
    delete_dial_rule
);

/// What the rules of a kind make of a number, as a soft client applies them (letters by the
/// keypad of `locale`, then the first matching rule by priority), and which rule applied.
#[utoipa::path(post, path = "/api/v1/dial-rules/test", tag = "soft clients", request_body = DialTest,
    responses((status = 200, body = DialResult), (status = 422, body = ErrorBody)))]
pub(super) async fn test_dial_rules(
    State(s): State<AppState>,
    _a: Admin,
    Body(b): Body<DialTest>,
) -> ApiResult<Json<DialResult>> {
    Ok(Json(s.service.test_dial_rules(&b).await?))
}

/// Moves every user homed on one presence node to another (a node of a subcluster).
#[utoipa::path(post, path = "/api/v1/presence-subclusters/rehome", tag = "soft clients", request_body = Rehome,
    responses((status = 200, body = Rehomed), (status = 422, body = ErrorBody)))]
pub(super) async fn rehome(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<Rehome>,
) -> ApiResult<Json<Rehomed>> {
    Ok(Json(s.service.rehome_presence_users(&a, b).await?))
}

/// A CTI gateway server (TCP, port 2748) for each call-control server not yet known by its
/// host, and a profile for each call-control system none of whose servers is in one.
#[utoipa::path(post, path = "/api/v1/cti-gateway-servers/from-systems", tag = "soft clients",
    responses((status = 200, body = CtiFromSystems)))]
pub(super) async fn cti_from_systems(
    State(s): State<AppState>,
    Admin(a): Admin,
) -> ApiResult<Json<CtiFromSystems>> {
    Ok(Json(s.service.cti_servers_from_systems(&a).await?))
}

/// What every soft client shares: instant messaging on or off, the maximum contact list size,
/// the TFTP servers.
#[utoipa::path(get, path = "/api/v1/soft-client-settings", tag = "soft clients",
    responses((status = 200, body = SoftClientSettings)))]
pub(super) async fn get_soft_client_settings(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<SoftClientSettings>> {
    Ok(Json(s.service.soft_client_settings().await?))
}

#[utoipa::path(put, path = "/api/v1/soft-client-settings", tag = "soft clients", request_body = SoftClientSettings,
    responses((status = 200, body = SoftClientSettings), (status = 422, body = ErrorBody)))]
pub(super) async fn put_soft_client_settings(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<SoftClientSettings>,
) -> ApiResult<Json<SoftClientSettings>> {
    Ok(Json(s.service.set_soft_client_settings(&a, b).await?))
}
