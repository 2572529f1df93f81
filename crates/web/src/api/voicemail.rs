//! Voicemail subscribers, classes of service and distribution lists.

use super::*;

/// Finds voicemail subscribers. `q` is a prefix of alias, first or last name. Filters: `alias`,
/// `extension`, `class_of_service`. Sorts: `last_name`, `alias`, `extension`, `updated_at`.
#[utoipa::path(get, path = "/api/v1/voicemail-subscribers", tag = "voicemail", params(ListParams),
    responses((status = 200, body = Page<VoicemailSubscriber>)))]
pub(super) async fn list_subscribers(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<VoicemailSubscriber>>> {
    let f = crate::auth::within(
        &a,
        "voicemail_subscriber",
        find(
            &q,
            &["alias", "extension", "class_of_service"],
            &["last_name", "alias", "extension", "updated_at"],
        )?,
    );
    Ok(Json(s.service.find_voicemail_subscribers(&f).await?))
}

#[utoipa::path(post, path = "/api/v1/voicemail-subscribers", tag = "voicemail", request_body = NewVoicemailSubscriber,
    responses((status = 201, body = VoicemailSubscriber), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewVoicemailSubscriber>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_voicemail_subscriber(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), responses((status = 200, body = VoicemailSubscriber), (status = 404, body = ErrorBody)))]
pub(super) async fn get_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<VoicemailSubscriber>> {
    let r = s
        .service
        .voicemail_subscriber(&key, k.system.as_deref())
        .await?;
    crate::auth::readable(&a, "voicemail_subscriber", &r.system)?;
    Ok(Json(r))
}

#[utoipa::path(patch, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), request_body = VoicemailSubscriberPatch,
    responses((status = 200, body = VoicemailSubscriber), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<VoicemailSubscriberPatch>,
) -> ApiResult<Json<VoicemailSubscriber>> {
    Ok(Json(
        s.service
            .update_voicemail_subscriber(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/voicemail-subscribers/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "alias or id"), KeyParams), responses((status = 204), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_subscriber(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_voicemail_subscriber(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/voicemail-subscribers/batch-delete", tag = "voicemail", request_body = BatchRequest,
    responses((status = 200, body = BatchResult)))]
pub(super) async fn delete_subscribers(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<BatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    Ok(Json(s.service.delete_voicemail_subscribers(&a, &b).await?))
}

/// Classes of service; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/classes-of-service", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<ClassOfService>)))]
pub(super) async fn list_cos(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<ClassOfService>>> {
    let f = find(&q, &[], &["name"])?;
    let items = s.service.classes_of_service(f.system.as_deref()).await?;
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/classes-of-service", tag = "voicemail", request_body = NewClassOfService,
    responses((status = 201, body = ClassOfService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewClassOfService>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_class_of_service(&a, b).await?))
}

#[utoipa::path(patch, path = "/api/v1/classes-of-service/{id}", tag = "voicemail", params(("id" = i64, Path)),
    request_body = ClassOfServicePatch, responses((status = 200, body = ClassOfService), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
    Body(b): Body<ClassOfServicePatch>,
) -> ApiResult<Json<ClassOfService>> {
    Ok(Json(s.service.update_class_of_service(&a, id, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/classes-of-service/{id}", tag = "voicemail", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_cos(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.service.delete_class_of_service(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public distribution lists; `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/distribution-lists", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<DistributionList>)))]
pub(super) async fn list_dls(
    State(s): State<AppState>,
    _a: Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<DistributionList>>> {
    let f = find(&q, &[], &["name"])?;
    let items = s.service.distribution_lists(f.system.as_deref()).await?;
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/distribution-lists", tag = "voicemail", request_body = NewDistributionList,
    responses((status = 201, body = DistributionList), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewDistributionList>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_distribution_list(&a, b).await?))
}

#[utoipa::path(patch, path = "/api/v1/distribution-lists/{id}", tag = "voicemail", params(("id" = i64, Path)),
    request_body = DistributionListPatch, responses((status = 200, body = DistributionList), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
    Body(b): Body<DistributionListPatch>,
) -> ApiResult<Json<DistributionList>> {
    Ok(Json(s.service.update_distribution_list(&a, id, b).await?))
}

#[utoipa::path(delete, path = "/api/v1/distribution-lists/{id}", tag = "voicemail", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_dl(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.service.delete_distribution_list(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restriction tables (seed 000): named and shared; a class of service names one for call
/// transfers, one for message notifications and one for faxes. `q` is a prefix of the name.
#[utoipa::path(get, path = "/api/v1/restriction-tables", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<RestrictionTable>)))]
pub(super) async fn list_rts(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<RestrictionTable>>> {
    let f = find(&q, &[], &["name"])?;
    let mut items = s.service.restriction_tables(f.system.as_deref()).await?;
    items.retain(|t| a.may_read(&t.system, "restriction_table"));
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/restriction-tables", tag = "voicemail", request_body = NewRestrictionTable,
    responses((status = 201, body = RestrictionTable), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_rt(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewRestrictionTable>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_restriction_table(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/restriction-tables/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 200, body = RestrictionTable), (status = 404, body = ErrorBody)))]
pub(super) async fn get_rt(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<RestrictionTable>> {
    let r = s
        .service
        .restriction_table(&key, k.system.as_deref())
        .await?;
    crate::auth::readable(&a, "restriction_table", &r.system)?;
    Ok(Json(r))
}

/// Changes a restriction table's name or rows; the classes of service naming it follow.
#[utoipa::path(patch, path = "/api/v1/restriction-tables/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams), request_body = RestrictionTablePatch,
    responses((status = 200, body = RestrictionTable), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_rt(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<RestrictionTablePatch>,
) -> ApiResult<Json<RestrictionTable>> {
    Ok(Json(
        s.service
            .update_restriction_table(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

/// Deletes a restriction table no class of service names.
#[utoipa::path(delete, path = "/api/v1/restriction-tables/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_rt(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_restriction_table(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Subscriber templates (seed 000): what a new voicemail subscriber gets when it does not say
/// otherwise (class of service, public distribution lists, default PIN). `q` is a prefix of the
/// name.
#[utoipa::path(get, path = "/api/v1/subscriber-templates", tag = "voicemail", params(ListParams), responses((status = 200, body = Page<SubscriberTemplate>)))]
pub(super) async fn list_sts(
    State(s): State<AppState>,
    Admin(a): Admin,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<SubscriberTemplate>>> {
    let f = find(&q, &[], &["name"])?;
    let mut items = s.service.subscriber_templates(f.system.as_deref()).await?;
    items.retain(|t| a.may_read(&t.system, "subscriber_template"));
    Ok(Json(in_memory(items, &f, |x| &x.name)))
}

#[utoipa::path(post, path = "/api/v1/subscriber-templates", tag = "voicemail", request_body = NewSubscriberTemplate,
    responses((status = 201, body = SubscriberTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_st(
    State(s): State<AppState>,
    Admin(a): Admin,
    Body(b): Body<NewSubscriberTemplate>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(s.service.create_subscriber_template(&a, b).await?))
}

#[utoipa::path(get, path = "/api/v1/subscriber-templates/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 200, body = SubscriberTemplate), (status = 404, body = ErrorBody)))]
pub(super) async fn get_st(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<Json<SubscriberTemplate>> {
    let r = s
        .service
        .subscriber_template(&key, k.system.as_deref())
        .await?;
    crate::auth::readable(&a, "subscriber_template", &r.system)?;
    Ok(Json(r))
}

/// Changes a template; subscribers already made from it keep what they got.
#[utoipa::path(patch, path = "/api/v1/subscriber-templates/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams), request_body = SubscriberTemplatePatch,
    responses((status = 200, body = SubscriberTemplate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_st(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
    Body(b): Body<SubscriberTemplatePatch>,
) -> ApiResult<Json<SubscriberTemplate>> {
    Ok(Json(
        s.service
            .update_subscriber_template(&a, &key, k.system.as_deref(), b)
            .await?,
    ))
}

/// Deletes a template no subscriber was made from (the default one stays).
#[utoipa::path(delete, path = "/api/v1/subscriber-templates/{key}", tag = "voicemail",
    params(("key" = String, Path, description = "name or id"), KeyParams),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete_st(
    State(s): State<AppState>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(k): Query<KeyParams>,
) -> ApiResult<StatusCode> {
    s.service
        .delete_subscriber_template(&a, &key, k.system.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
