//! The authorization provider against a real (SQLite) store: assignments, custom roles and
//! their evaluation across scopes and tenants.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use privlink_store::{ResourceRow, SqliteStore, Tx};
use serde_json::{json, Value};

use super::*;
use crate::config::{Limits, Settings, Timing};
use crate::identity::{Caller, PrincipalKind};
use crate::providers::resources::subscriptions::subscription_row;
use crate::providers::Registry;

const SA: &str = "11111111-1111-1111-1111-111111111111";
const SB: &str = "22222222-2222-2222-2222-222222222222";
const ADMIN: &str = "a0000000-0000-0000-0000-000000000001";
const USER: &str = "b0000000-0000-0000-0000-000000000002";
const FOREIGN: &str = "c0000000-0000-0000-0000-000000000003";
const A1: &str = "aa000000-0000-0000-0000-000000000001";
const A2: &str = "aa000000-0000-0000-0000-000000000002";
const CUSTOM: &str = "dd000000-0000-0000-0000-000000000001";

fn caller(tenant: &str, object_id: &str) -> Caller {
    Caller {
        tenant_id: tenant.into(),
        object_id: object_id.into(),
        client_id: object_id.into(),
        display: format!("app-{object_id}"),
        kind: PrincipalKind::ServicePrincipal,
        admin: false,
    }
}

fn rg_key() -> String {
    format!("/subscriptions/{SA}/resourcegroups/rg1")
}

fn vnet_key() -> String {
    format!("{}/providers/microsoft.network/virtualnetworks/v1", rg_key())
}

fn plain_row(key: &str, type_key: &str, rg: &str) -> ResourceRow {
    ResourceRow {
        key: key.into(),
        id: key.into(),
        type_key: type_key.into(),
        subscription: SA.into(),
        resource_group: rg.into(),
        parent_key: String::new(),
        body: json!({ "properties": {} }),
        etag: String::new(),
        created_at: 0,
        updated_at: 0,
    }
}

struct Env {
    store: SqliteStore,
    dir: std::path::PathBuf,
    registry: Registry,
    settings: Settings,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    /// Tenant `ta` owns SA (with rg1 and vnet v1), tenant `tb` owns SB; ADMIN is Owner of SA.
    fn new() -> Env {
        let dir = std::env::temp_dir().join(format!("privlink-authz-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = SqliteStore::open(&dir.join("store.db")).expect("open sqlite");
        let settings =
            Settings { timing: Timing::Immediate, limits: Limits::default(), legacy_network_policies: false };
        let env = Env { store, dir, registry: Registry::new(), settings };
        env.tx(|tx| {
            tx.put(&subscription_row(SA, "ta", "A", 0))?;
            tx.put(&subscription_row(SB, "tb", "B", 0))?;
            tx.put(&plain_row(&rg_key(), "microsoft.resources/resourcegroups", "rg1"))?;
            tx.put(&plain_row(&vnet_key(), "microsoft.network/virtualnetworks", "rg1"))?;
            tx.put(&assignment_row(&format!("/subscriptions/{SA}"), A1, OWNER, ADMIN, "User", ADMIN, 0)?)?;
            Ok(())
        })
        .expect("seed");
        env
    }

    fn tx<R>(&self, mut f: impl FnMut(&mut dyn Tx) -> ArmResult<R>) -> ArmResult<R> {
        privlink_store::write(&self.store, |tx| f(tx))
    }

    fn send(&self, who: &Caller, method: Method, path: &str, body: Value) -> ArmResult<(StatusCode, Value)> {
        let p = split_path(path).expect("an authorization path");
        let bytes = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        self.tx(|tx| {
            let mut w = Write::new(tx, &self.registry, &self.settings, false);
            handle_write(&mut w, who, &method, &p, &bytes)
        })
    }

    fn get(&self, who: &Caller, path: &str, filter: &str) -> ArmResult<Value> {
        let p = split_path(path).expect("an authorization path");
        let mut query = HashMap::new();
        if !filter.is_empty() {
            query.insert("$filter".to_string(), filter.to_string());
        }
        privlink_store::read(&self.store, |tx| handle_read(tx, who, &p, &query))
    }

    fn check(&self, who: &Caller, action: &str, scope_key: &str) -> bool {
        self.tx(|tx| rbac::check(tx, who, action, scope_key)).expect("check")
    }

    fn assign(
        &self,
        who: &Caller,
        scope: &str,
        name: &str,
        role: &str,
        principal: &str,
    ) -> ArmResult<(StatusCode, Value)> {
        let path = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        let body = json!({ "properties": {
            "roleDefinitionId": role_definition_id(Some(SA), role),
            "principalId": principal,
        }});
        self.send(who, Method::PUT, &path, body)
    }
}

fn code(result: ArmResult<impl std::fmt::Debug>) -> &'static str {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.parts().1,
    }
}

fn names(list: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        list["value"].as_array().into_iter().flatten().filter_map(|v| v["name"].as_str().map(str::to_string)).collect();
    out.sort();
    out
}

#[test]
fn split_path_finds_scope_collection_and_name() {
    let p =
        split_path("/subscriptions/S/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/abc").unwrap();
    assert_eq!(p.scope, "/subscriptions/S/resourceGroups/rg");
    assert_eq!(p.collection, Collection::RoleAssignments);
    assert_eq!(p.name.as_deref(), Some("abc"));
    let root = split_path("/providers/microsoft.authorization/ROLEDEFINITIONS/").unwrap();
    assert_eq!((root.scope.as_str(), root.collection, root.name), ("", Collection::RoleDefinitions, None));
    let doubled = split_path("//subscriptions/s/providers/Microsoft.Authorization/permissions").unwrap();
    assert_eq!((doubled.scope.as_str(), doubled.collection), ("/subscriptions/s", Collection::Permissions));
    assert!(split_path("/subscriptions/s/providers/Microsoft.Network/virtualNetworks/v").is_none());
    assert!(split_path("/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/x").is_none());
    assert!(split_path("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a/b").is_none());
    assert!(split_path("/subscriptions/s/providers/Microsoft.Authorization/permissions/x").is_none());
}

#[test]
fn is_guid_takes_only_the_hyphenated_form() {
    assert!(is_guid(OWNER));
    assert!(is_guid(&OWNER.to_uppercase()));
    assert!(!is_guid("8e3af657a8ff443ca75c2fe8c4bcb635"));
    assert!(!is_guid("{8e3af657-a8ff-443c-a75c-2fe8c4bcb635}"));
    assert!(!is_guid("8e3af657-a8ff-443c-a75c-2fe8c4bcb63g"));
}

#[test]
fn owner_at_the_subscription_holds_everything_below_in_its_tenant_only() {
    let env = Env::new();
    let admin = caller("ta", ADMIN);
    let subnet = format!("{}/subnets/a", vnet_key());
    assert!(env.check(&admin, "Microsoft.Network/virtualNetworks/subnets/join/action", &subnet));
    assert!(env.check(&admin, role_assignments::WRITE, &rg_key()));
    assert!(!env.check(&admin, "Microsoft.Network/virtualNetworks/read", &format!("/subscriptions/{SB}")));
    assert!(!env.check(&admin, "x/read", ""), "nothing at the root");
    assert!(env.tx(|tx| rbac::has_any_access(tx, &admin, SA)).unwrap());
    assert!(!env.tx(|tx| rbac::has_any_access(tx, &admin, SB)).unwrap());
    let err = env
        .tx(|tx| rbac::require(tx, &caller("ta", USER), "Microsoft.Network/virtualNetworks/write", "/x"))
        .unwrap_err();
    assert!(
        matches!(err, ArmError::AuthorizationFailed { ref object_id, ref scope, .. } if object_id == USER && scope == "/x")
    );

    // An assignment in tenant A naming a principal of tenant B gives that principal nothing.
    env.assign(&admin, &format!("/subscriptions/{SA}"), A2, OWNER, FOREIGN).unwrap();
    let foreign = caller("tb", FOREIGN);
    assert!(!env.check(&foreign, "Microsoft.Network/virtualNetworks/read", &vnet_key()));
    assert!(!env.tx(|tx| rbac::has_any_access(tx, &foreign, SA)).unwrap());
    assert_eq!(
        code(env.get(&foreign, &format!("/subscriptions/{SA}/providers/Microsoft.Authorization/roleAssignments"), "")),
        "AuthorizationFailed"
    );
}

#[test]
fn role_assignment_lifecycle() {
    let env = Env::new();
    let admin = caller("ta", ADMIN);
    let user = caller("ta", USER);
    let rg = format!("/subscriptions/{SA}/resourceGroups/rg1");

    let (status, created) = env.assign(&admin, &rg, A2, NETWORK_CONTRIBUTOR, &USER.to_uppercase()).unwrap();
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["id"], format!("{rg}/providers/Microsoft.Authorization/roleAssignments/{A2}"));
    assert_eq!(created["type"], "Microsoft.Authorization/roleAssignments");
    assert_eq!(created["properties"]["principalId"], USER);
    assert_eq!(created["properties"]["principalType"], "ServicePrincipal");
    assert_eq!(created["properties"]["scope"], rg);
    assert_eq!(created["properties"]["createdBy"], ADMIN);

    assert!(env.check(&user, "Microsoft.Network/privateEndpoints/write", &vnet_key()));
    assert!(!env.check(&user, "Microsoft.Storage/storageAccounts/write", &vnet_key()));
    assert!(!env.check(&user, "Microsoft.Network/privateEndpoints/write", &format!("/subscriptions/{SA}")));
    assert!(env.tx(|tx| rbac::has_any_access(tx, &user, SA)).unwrap());

    // Idempotent re-PUT; a change of role is refused; the same grant under another name too.
    assert_eq!(env.assign(&admin, &rg, A2, NETWORK_CONTRIBUTOR, USER).unwrap().0, StatusCode::OK);
    assert_eq!(code(env.assign(&admin, &rg, A2, READER, USER)), "RoleAssignmentUpdateNotPermitted");
    let dup = env.assign(&admin, &rg, "aa000000-0000-0000-0000-000000000003", NETWORK_CONTRIBUTOR, USER).unwrap_err();
    assert_eq!(dup.parts().1, "RoleAssignmentExists");
    assert!(dup.parts().2.contains(A2));

    // Validation.
    assert_eq!(code(env.assign(&admin, &rg, "not-a-guid", READER, USER)), "InvalidRoleAssignmentId");
    assert_eq!(
        code(env.assign(&admin, &rg, "aa000000-0000-0000-0000-000000000004", READER, "someone")),
        "InvalidPrincipalId"
    );
    assert_eq!(
        code(env.assign(
            &admin,
            &rg,
            "aa000000-0000-0000-0000-000000000004",
            "99999999-9999-9999-9999-999999999999",
            USER
        )),
        "RoleDefinitionDoesNotExist"
    );
    let missing_rg = format!("/subscriptions/{SA}/resourceGroups/nope");
    assert_eq!(
        code(env.assign(&admin, &missing_rg, "aa000000-0000-0000-0000-000000000004", READER, USER)),
        "ResourceGroupNotFound"
    );
    let missing_vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/nope");
    assert_eq!(
        code(env.assign(&admin, &missing_vnet, "aa000000-0000-0000-0000-000000000004", READER, USER)),
        "ResourceNotFound"
    );
    let missing_sub = "/subscriptions/33333333-3333-3333-3333-333333333333";
    assert_eq!(
        code(env.assign(&admin, missing_sub, "aa000000-0000-0000-0000-000000000004", READER, USER)),
        "SubscriptionNotFound"
    );
    assert_eq!(
        code(env.assign(&admin, &format!("/subscriptions/{SB}"), "aa000000-0000-0000-0000-000000000004", READER, USER)),
        "AuthorizationFailed"
    );
    let conditional = env.send(
        &admin,
        Method::PUT,
        &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/aa000000-0000-0000-0000-000000000004"),
        json!({ "properties": { "roleDefinitionId": role_definition_id(None, READER), "principalId": USER, "condition": "x" } }),
    );
    assert_eq!(code(conditional), "NotImplemented");

    // A Network Contributor may not grant access; neither may a Contributor.
    assert_eq!(
        code(env.assign(&user, &rg, "aa000000-0000-0000-0000-000000000005", READER, USER)),
        "AuthorizationFailed"
    );
    env.assign(&admin, &rg, "aa000000-0000-0000-0000-000000000006", CONTRIBUTOR, FOREIGN).unwrap();
    let contributor = caller("ta", FOREIGN);
    assert_eq!(
        code(env.assign(&contributor, &rg, "aa000000-0000-0000-0000-000000000007", READER, USER)),
        "AuthorizationFailed"
    );
    // A User Access Administrator may.
    env.assign(&admin, &rg, "aa000000-0000-0000-0000-000000000008", USER_ACCESS_ADMINISTRATOR, FOREIGN).unwrap();
    env.assign(&contributor, &rg, "aa000000-0000-0000-0000-000000000009", READER, USER).unwrap();

    // GET and DELETE.
    let one = format!("{rg}/providers/Microsoft.Authorization/roleAssignments/{A2}");
    assert_eq!(env.get(&user, &one, "").unwrap()["name"], A2);
    assert_eq!(code(env.send(&user, Method::DELETE, &one, Value::Null)), "AuthorizationFailed");
    let (status, deleted) = env.send(&admin, Method::DELETE, &one, Value::Null).unwrap();
    assert_eq!((status, deleted["name"].as_str()), (StatusCode::OK, Some(A2)));
    assert_eq!(env.send(&admin, Method::DELETE, &one, Value::Null).unwrap(), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(code(env.get(&user, &one, "")), "ResourceNotFound");
    assert!(!env.check(&user, "Microsoft.Network/privateEndpoints/write", &vnet_key()));
}

#[test]
fn lists_follow_scope_and_filters() {
    let env = Env::new();
    let admin = caller("ta", ADMIN);
    let sub = format!("/subscriptions/{SA}");
    let rg = format!("{sub}/resourceGroups/rg1");
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/v1");
    env.assign(&admin, &rg, A2, READER, USER).unwrap();
    let at_vnet = "aa000000-0000-0000-0000-00000000000a";
    env.assign(&admin, &vnet, at_vnet, NETWORK_CONTRIBUTOR, USER).unwrap();
    // Another tenant's assignment never shows.
    env.tx(|tx| {
        Ok(tx.put(&assignment_row(
            &format!("/subscriptions/{SB}"),
            "aa000000-0000-0000-0000-00000000000b",
            OWNER,
            USER,
            "User",
            USER,
            0,
        )?)?)
    })
    .unwrap();

    let list = |scope: &str, filter: &str| {
        env.get(&admin, &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"), filter).unwrap()
    };
    assert_eq!(names(&list(&sub, "")), [A1, A2, at_vnet]);
    assert_eq!(names(&list(&sub, "atScope()")), [A1]);
    assert_eq!(names(&list(&rg, "")), [A1, A2, at_vnet]);
    assert_eq!(names(&list(&rg, "atScope()")), [A1, A2]);
    assert_eq!(names(&list(&vnet, "atScope()")), [A1, A2, at_vnet]);
    assert_eq!(names(&list(&sub, &format!("principalId eq '{USER}'"))), [A2, at_vnet]);
    assert_eq!(names(&list(&rg, &format!("atScope() and assignedTo('{USER}')"))), [A2]);
    // Listing at the root needs rights there; the subscription's Owner has none.
    assert_eq!(code(env.get(&admin, "/providers/Microsoft.Authorization/roleAssignments", "")), "AuthorizationFailed");
    assert_eq!(
        code(env.get(&admin, &format!("{sub}/providers/Microsoft.Authorization/roleAssignments"), "foo eq 'x'")),
        "InvalidFilter"
    );

    // The caller's own permissions at the vnet: Owner (inherited) only.
    let perms = env.get(&admin, &format!("{vnet}/providers/Microsoft.Authorization/permissions"), "").unwrap();
    assert_eq!(
        perms["value"],
        json!([{ "actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": [] }])
    );

    // Removing the resource group's tree removes the assignments in it.
    env.tx(|tx| {
        let mut w = Write::new(tx, &env.registry, &env.settings, false);
        w.remove_tree(&rg_key())
    })
    .unwrap();
    assert_eq!(names(&list(&sub, "")), [A1]);
}

#[test]
fn role_definitions_built_in_and_custom() {
    let env = Env::new();
    let admin = caller("ta", ADMIN);
    let user = caller("ta", USER);
    let sub = format!("/subscriptions/{SA}");
    let rg = format!("{sub}/resourceGroups/rg1");
    let defs = |scope: &str| format!("{scope}/providers/Microsoft.Authorization/roleDefinitions");

    // Built-ins at any scope, found by name as `az role assignment create --role Reader` does.
    let reader = env.get(&user, &format!("{}/{READER}", defs(&rg)), "").unwrap();
    assert_eq!(reader["id"], format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}"));
    let by_name = env.get(&user, &defs(&rg), "roleName eq 'reader'").unwrap();
    assert_eq!(names(&by_name), [READER]);
    assert_eq!(
        env.get(&user, &defs(""), "").unwrap()["value"].as_array().map(Vec::len),
        Some(builtin::BUILTIN_ROLES.len())
    );
    assert_eq!(code(env.get(&caller("tb", FOREIGN), &defs(&sub), "")), "AuthorizationFailed");

    let role = |name: &str, scopes: Value| {
        json!({ "properties": {
            "roleName": name,
            "description": "joins subnets",
            "type": "CustomRole",
            "permissions": [{ "actions": ["Microsoft.Network/virtualNetworks/subnets/join/action", "*/read"] }],
            "assignableScopes": scopes,
        }})
    };
    let path = format!("{}/{CUSTOM}", defs(&rg));
    assert_eq!(code(env.send(&user, Method::PUT, &path, role("Joiner", json!([rg])))), "AuthorizationFailed");
    let (status, created) = env.send(&admin, Method::PUT, &path, role("Joiner", json!([rg]))).unwrap();
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["properties"]["type"], "CustomRole");
    assert_eq!(created["properties"]["permissions"][0]["notActions"], json!([]));
    assert_eq!(created["properties"]["assignableScopes"], json!([rg]));
    assert_eq!(names(&env.get(&user, &defs(&sub), "type eq 'CustomRole'").unwrap()), [CUSTOM]);
    assert_eq!(names(&env.get(&caller("ta", FOREIGN), &defs(&rg), "roleName eq 'Joiner'").unwrap()), [CUSTOM]);

    // Validation.
    let other = format!("{}/dd000000-0000-0000-0000-000000000002", defs(&rg));
    assert_eq!(
        code(env.send(&admin, Method::PUT, &other, role("joiner", json!([rg])))),
        "RoleDefinitionWithSameNameExists"
    );
    assert_eq!(
        code(env.send(&admin, Method::PUT, &other, role("Owner", json!([rg])))),
        "RoleDefinitionWithSameNameExists"
    );
    assert_eq!(code(env.send(&admin, Method::PUT, &other, role("X", json!([])))), "InvalidAssignableScopes");
    assert_eq!(code(env.send(&admin, Method::PUT, &other, role("X", json!(["/"])))), "InvalidAssignableScopes");
    assert_eq!(
        code(env.send(&admin, Method::PUT, &other, role("X", json!([format!("{sub}/resourceGroups/nope")])))),
        "InvalidAssignableScopes"
    );
    assert_eq!(
        code(env.send(
            &admin,
            Method::PUT,
            &other,
            role("X", json!([format!("{sub}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1")]))
        )),
        "InvalidAssignableScopes"
    );
    assert_eq!(
        code(env.send(&admin, Method::PUT, &other, role("X", json!([format!("/subscriptions/{SB}")])))),
        "AuthorizationFailed"
    );
    let mut bad_action = role("X", json!([rg]));
    bad_action["properties"]["permissions"][0]["notActions"] = json!(["not an action"]);
    assert_eq!(code(env.send(&admin, Method::PUT, &other, bad_action)), "InvalidActionOrNotAction");
    assert_eq!(
        code(env.send(&admin, Method::PUT, &format!("{}/{READER}", defs(&rg)), role("X", json!([rg])))),
        "CannotModifyBuiltInRole"
    );
    assert_eq!(
        code(env.send(&admin, Method::PUT, &format!("{}/x", defs(&rg)), role("X", json!([rg])))),
        "InvalidRoleDefinitionId"
    );

    // Assign it and use it; it is not assignable above its scopes.
    assert_eq!(code(env.assign(&admin, &sub, A2, CUSTOM, USER)), "RoleDefinitionNotAssignableAtScope");
    env.assign(&admin, &rg, A2, CUSTOM, USER).unwrap();
    assert!(env.check(
        &user,
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        &format!("{}/subnets/a", vnet_key())
    ));
    assert!(!env.check(&user, "Microsoft.Network/virtualNetworks/write", &vnet_key()));

    // Narrowing below an assignment, or deleting while assigned, is refused.
    let narrowed = role("Joiner", json!([format!("{rg}/providers/Microsoft.Network/virtualNetworks/v1")]));
    let narrowed_path = format!("{}/{CUSTOM}", defs(&format!("{rg}/providers/Microsoft.Network/virtualNetworks/v1")));
    assert_eq!(code(env.send(&admin, Method::PUT, &narrowed_path, narrowed)), "InvalidAssignableScopes");
    assert_eq!(code(env.send(&admin, Method::DELETE, &path, Value::Null)), "RoleDefinitionHasAssignments");
    env.send(
        &admin,
        Method::DELETE,
        &format!("{rg}/providers/Microsoft.Authorization/roleAssignments/{A2}"),
        Value::Null,
    )
    .unwrap();
    assert!(!env.check(&user, "Microsoft.Network/virtualNetworks/subnets/join/action", &vnet_key()));

    // Update, then delete.
    let (status, updated) = env.send(&admin, Method::PUT, &path, role("Joiner v2", json!([sub]))).unwrap();
    assert_eq!((status, updated["properties"]["roleName"].as_str()), (StatusCode::CREATED, Some("Joiner v2")));
    assert_eq!(updated["properties"]["createdOn"], created["properties"]["createdOn"]);
    let (status, deleted) = env.send(&admin, Method::DELETE, &path, Value::Null).unwrap();
    assert_eq!((status, deleted["name"].as_str()), (StatusCode::OK, Some(CUSTOM)));
    assert_eq!(env.send(&admin, Method::DELETE, &path, Value::Null).unwrap(), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(code(env.get(&user, &path, "")), "ResourceNotFound");
    assert_eq!(
        code(env.send(&admin, Method::DELETE, &format!("{}/{OWNER}", defs(&rg)), Value::Null)),
        "CannotModifyBuiltInRole"
    );
}

#[test]
fn root_scope_assignments_count_only_in_their_tenant() {
    let env = Env::new();
    let user = caller("ta", USER);
    let root_row = assignment_row("/", A2, READER, USER, "User", ADMIN, 0).unwrap();
    assert_eq!(root_row.key, format!("/providers/microsoft.authorization/roleassignments/{A2}"));
    env.tx(|tx| Ok(tx.put(&root_row)?)).unwrap();
    assert!(!env.check(&user, "Microsoft.Network/virtualNetworks/read", &vnet_key()), "no tenant recorded");
    env.tx(|tx| Ok(tx.put(&role_assignments::with_tenant(root_row.clone(), "ta"))?)).unwrap();
    assert!(env.check(&user, "Microsoft.Network/virtualNetworks/read", &vnet_key()));
    assert!(!env.check(&user, "Microsoft.Network/virtualNetworks/write", &vnet_key()));
    assert!(env.tx(|tx| rbac::has_any_access(tx, &user, SA)).unwrap());
    assert!(!env.check(&caller("tb", USER), "Microsoft.Network/virtualNetworks/read", &format!("/subscriptions/{SB}")));
}
