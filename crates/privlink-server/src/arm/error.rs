//! ARM errors: one closed enum, rendered in one place as `{"error":{"code","message","target","details"}}`.
//!
//! Every failure a client can see is a variant here, so adding one forces a choice of status and
//! code. Store failures become `Internal`, whose message never carries backend details.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub enum ArmError {
    MissingApiVersion,
    InvalidApiVersion {
        version: String,
        type_name: String,
        supported: Vec<&'static str>,
    },
    InvalidResourceNamespace {
        namespace: String,
    },
    InvalidResourceType {
        type_name: String,
        version: String,
    },
    /// The body is not JSON, or not the JSON object this operation takes.
    InvalidRequestContent {
        message: String,
    },
    /// A property has the wrong type or an invalid value: 400 with a resource-provider code.
    InvalidProperty {
        code: &'static str,
        message: String,
        target: Option<String>,
    },
    InvalidResourceName {
        name: String,
        type_name: String,
        rule: &'static str,
    },
    InvalidResourceGroupLocation {
        message: String,
    },
    LocationRequired,
    LocationNotAvailable {
        location: String,
        type_name: String,
    },
    SubscriptionNotFound {
        subscription: String,
    },
    ResourceGroupNotFound {
        resource_group: String,
    },
    ResourceNotFound {
        type_name: String,
        name: String,
        resource_group: Option<String>,
    },
    ParentResourceNotFound {
        parent: String,
    },
    OperationNotFound {
        id: String,
    },
    /// An `If-Match` / `If-None-Match` condition failed.
    PreconditionFailed {
        message: String,
    },
    /// 409 with a resource-provider code.
    Conflict {
        code: &'static str,
        message: String,
    },
    /// A dependent resource still uses this one: 400, as the Network RP answers.
    InUse {
        code: &'static str,
        message: String,
    },
    AnotherOperationInProgress {
        id: String,
        operation_url: String,
    },
    /// 401: no token, or one privlink does not accept. `authority` is where to get a good one
    /// (sent back in `WWW-Authenticate`).
    Unauthenticated {
        code: &'static str,
        message: String,
        authority: String,
    },
    /// The caller lacks `action` on `scope`.
    AuthorizationFailed {
        client: String,
        object_id: String,
        action: String,
        scope: String,
    },
    /// The caller may do the operation itself but lacks `linked_action` on a linked scope.
    LinkedAuthorizationFailed(Box<LinkedDenial>),
    MissingSubscriptionRegistration {
        namespace: String,
    },
    MethodNotAllowed {
        method: String,
    },
    NotImplemented {
        what: String,
    },
    Internal,
}

/// What `LinkedAuthorizationFailed` names (boxed: it is the largest error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedDenial {
    pub client: String,
    pub object_id: String,
    pub action: String,
    pub scope: String,
    pub linked_action: String,
    pub linked_scope: String,
}

pub type ArmResult<T> = Result<T, ArmError>;

impl ArmError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ArmError::InvalidProperty { code, message: message.into(), target: None }
    }

    pub fn invalid_at(code: &'static str, target: &str, message: impl Into<String>) -> Self {
        ArmError::InvalidProperty { code, message: message.into(), target: Some(target.to_string()) }
    }

    /// A property of the wrong JSON type.
    pub fn wrong_type(path: &str, expected: &str) -> Self {
        ArmError::InvalidProperty {
            code: "InvalidRequestFormat",
            message: format!("Cannot parse the request: property '{path}' must be {expected}."),
            target: Some(path.to_string()),
        }
    }

    /// HTTP status, ARM error code, message and target.
    pub fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        use ArmError::*;
        let bad = StatusCode::BAD_REQUEST;
        match self {
            MissingApiVersion => (bad, "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.".into(), None),
            InvalidApiVersion { version, type_name, supported } => (bad, "InvalidApiVersionParameter",
                format!("The api-version '{version}' is invalid for resource type '{type_name}'. The supported versions are '{}'.", supported.join(",")), None),
            InvalidResourceNamespace { namespace } => (bad, "InvalidResourceNamespace",
                format!("The resource namespace '{namespace}' is invalid."), None),
            InvalidResourceType { type_name, version } => (bad, "InvalidResourceType",
                format!("The resource type '{type_name}' could not be found for api version '{version}'."), None),
            InvalidRequestContent { message } => (bad, "InvalidRequestContent", message.clone(), None),
            InvalidProperty { code, message, target } => (bad, code, message.clone(), target.clone()),
            InvalidResourceName { name, type_name, rule } => (bad, "InvalidResourceName",
                format!("Resource name '{name}' is invalid for type '{type_name}': {rule}"), None),
            InvalidResourceGroupLocation { message } => (StatusCode::CONFLICT, "InvalidResourceGroupLocation", message.clone(), None),
            LocationRequired => (bad, "LocationRequired", "The location property is required for this definition.".into(), Some("location".into())),
            LocationNotAvailable { location, type_name } => (bad, "LocationNotAvailableForResourceType",
                format!("The provided location '{location}' is not available for resource type '{type_name}'."), Some("location".into())),
            SubscriptionNotFound { subscription } => (StatusCode::NOT_FOUND, "SubscriptionNotFound",
                format!("The subscription '{subscription}' could not be found."), None),
            ResourceGroupNotFound { resource_group } => (StatusCode::NOT_FOUND, "ResourceGroupNotFound",
                format!("Resource group '{resource_group}' could not be found."), None),
            ResourceNotFound { type_name, name, resource_group } => (StatusCode::NOT_FOUND, "ResourceNotFound",
                match resource_group {
                    Some(rg) => format!("The Resource '{type_name}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
                    None => format!("The Resource '{type_name}/{name}' was not found."),
                }, None),
            ParentResourceNotFound { parent } => (StatusCode::NOT_FOUND, "ParentResourceNotFound",
                format!("Can not perform requested operation on nested resource. Parent resource '{parent}' not found."), None),
            OperationNotFound { id } => (StatusCode::NOT_FOUND, "OperationNotFound",
                format!("The operation '{id}' could not be found."), None),
            PreconditionFailed { message } => (StatusCode::PRECONDITION_FAILED, "PreconditionFailed", message.clone(), None),
            Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone(), None),
            InUse { code, message } => (bad, code, message.clone(), None),
            AnotherOperationInProgress { id, operation_url } => (StatusCode::CONFLICT, "AnotherOperationInProgress",
                format!("Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: {operation_url}. Resource: {id}."), None),
            MissingSubscriptionRegistration { namespace } => (StatusCode::CONFLICT, "MissingSubscriptionRegistration",
                format!("The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions."), None),
            Unauthenticated { code, message, .. } => (StatusCode::UNAUTHORIZED, code, message.clone(), None),
            AuthorizationFailed { client, object_id, action, scope } => (StatusCode::FORBIDDEN, "AuthorizationFailed",
                format!("The client '{client}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."), None),
            LinkedAuthorizationFailed(d) => (StatusCode::FORBIDDEN, "LinkedAuthorizationFailed",
                format!("The client '{}' with object id '{}' has permission to perform action '{}' on scope '{}'; however, it does not have permission to perform action '{}' on the linked scope(s) '{}' or the linked scope(s) are invalid.", d.client, d.object_id, d.action, d.scope, d.linked_action, d.linked_scope), None),
            MethodNotAllowed { method } => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed",
                format!("The HTTP method '{method}' is not supported at this address."), None),
            NotImplemented { what } => (StatusCode::NOT_IMPLEMENTED, "NotImplemented",
                format!("privlink does not implement {what} yet."), None),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError",
                "The server encountered an internal error. Please retry the request.".into(), None),
        }
    }

    /// The `error` object (also used inside failed operation-status bodies).
    pub fn body(&self) -> serde_json::Value {
        let (_, code, message, target) = self.parts();
        let mut error = json!({ "code": code, "message": message, "details": [] });
        if let Some(target) = target {
            error["target"] = json!(target);
        }
        error
    }
}

impl From<privlink_store::StoreError> for ArmError {
    fn from(e: privlink_store::StoreError) -> Self {
        // Details go to the log, never to the client. A conflict is retried by the store.
        match e {
            privlink_store::StoreError::Retry => tracing::debug!("transaction conflicted; the store retries it"),
            e => tracing::error!(error = %e, "store error"),
        }
        ArmError::Internal
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let (status, ..) = self.parts();
        let mut response = (status, axum::Json(json!({ "error": self.body() }))).into_response();
        if let ArmError::Unauthenticated { authority, message, .. } = &self {
            let description = message.replace('"', "'");
            let challenge = format!(
                "Bearer authorization_uri=\"{authority}\", error=\"invalid_token\", error_description=\"{description}\""
            );
            if let Ok(value) = http::HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(http::header::WWW_AUTHENTICATE, value);
            }
        }
        if status == StatusCode::NOT_FOUND && matches!(self, ArmError::ResourceGroupNotFound { .. }) {
            response.headers_mut().insert("x-ms-failure-cause", http::HeaderValue::from_static("gateway"));
        }
        response
    }
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (status, code, message, _) = self.parts();
        write!(f, "{} {code}: {message}", status.as_u16())
    }
}

impl std::error::Error for ArmError {}
