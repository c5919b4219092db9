//! The organization steps as Hasura actions: each answers the shape its SDL type declares,
//! under the same rules as the REST routes.

use std::collections::{BTreeSet, HashMap};

use graphql_parser::schema::{parse_schema, Definition, TypeDefinition};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    common::{self, smtp::Smtp, str_of},
    email::mail_app,
    hasura::{action, assert_action_error, user_vars, ACTIONS_SECRET},
};

/// The fields of each object type of the actions' SDL, and each action's output type name.
fn sdl() -> (HashMap<String, BTreeSet<String>>, HashMap<String, String>) {
    let text = hasura_jwt_auth::hasura_config::metadata::actions_graphql();
    let doc = parse_schema::<String>(&text).unwrap();
    let (mut objects, mut outputs) = (HashMap::new(), HashMap::new());
    for def in &doc.definitions {
        if let Definition::TypeDefinition(TypeDefinition::Object(o)) = def {
            for f in &o.fields {
                if o.name == "Mutation" || o.name == "Query" {
                    let ty = f.field_type.to_string();
                    outputs.insert(f.name.clone(), ty.trim_matches(['[', ']', '!']).to_owned());
                }
            }
            let fields = o.fields.iter().map(|f| f.name.clone()).collect();
            objects.insert(o.name.clone(), fields);
        }
    }
    (objects, outputs)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[sqlx::test(migrations = false)]
async fn organization_steps_as_actions(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    let (objects, outputs) = sdl();
    let shaped = |name: &str, v: &Value| {
        let expected = &objects[&outputs[name]];
        let one = if v.is_array() { &v[0] } else { v };
        assert_eq!(&keys(one), expected, "{name}: {v}");
    };
    let ann = user_vars(str_of(
        &app.signup("ann@example.com").await.body,
        "access_token",
    ));
    let bob_session = app.signup("bob@example.com").await;
    let bob = user_vars(str_of(&bob_session.body, "access_token"));
    let bob_id = bob["x-hasura-user-id"].clone();

    let made = action(
        &app,
        "createOrganization",
        json!({"name": "Acme"}),
        ann.clone(),
    )
    .await;
    shaped("createOrganization", &made.body);
    let org = made.body["id"].clone();
    let on = |extra: Value| {
        let mut input = json!({"organization_id": org});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    let mine = action(&app, "myOrganizations", json!({}), ann.clone()).await;
    shaped("myOrganizations", &mine.body);

    // Bob is invited, accepts by id, and is made an administrator.
    let invite = on(json!({"email": "bob@example.com", "roles": ["org_member"]}));
    let sent = action(&app, "inviteToOrganization", invite, ann.clone()).await;
    shaped("inviteToOrganization", &sent.body);
    let listed = action(&app, "organizationInvitations", on(json!({})), ann.clone()).await;
    shaped("organizationInvitations", &listed.body);
    // Ann cannot take Bob's invitation; Bob can, once he proved his address.
    super::invitations::prove_address(&app, "bob@example.com").await;
    let by_id = json!({"id": sent.body["id"]});
    let refused = action(&app, "acceptInvitation", by_id.clone(), ann.clone()).await;
    assert_action_error(
        &refused,
        axum::http::StatusCode::NOT_FOUND,
        "invitation_not_found",
    );
    let joined = action(&app, "acceptInvitation", by_id, bob.clone()).await;
    shaped("acceptInvitation", &joined.body);
    assert_eq!(joined.body["roles"], json!(["org_member"]));
    // Only administrators manage members.
    let promote = on(json!({"user_id": bob_id, "roles": ["org_admin"]}));
    let refused = action(
        &app,
        "setOrganizationMemberRoles",
        promote.clone(),
        bob.clone(),
    )
    .await;
    assert_action_error(
        &refused,
        axum::http::StatusCode::FORBIDDEN,
        "organization_admin_required",
    );
    let set = action(&app, "setOrganizationMemberRoles", promote, ann.clone()).await;
    shaped("setOrganizationMemberRoles", &set.body);
    let members = action(&app, "organizationMembers", on(json!({})), bob.clone()).await;
    shaped("organizationMembers", &members.body);
    assert_eq!(members.body.as_array().unwrap().len(), 2);

    // Bob's session acts in it, then in none.
    let active = action(&app, "activateOrganization", on(json!({})), bob.clone()).await;
    shaped("activateOrganization", &active.body);
    let refresh = str_of(&bob_session.body, "refresh_token");
    let claims = common::jwt_payload(str_of(&app.refresh(refresh).await.body, "access_token"));
    assert_eq!(
        claims["https://hasura.io/jwt/claims"]["x-hasura-org-id"],
        org
    );
    let none = action(&app, "activateOrganization", json!({}), bob.clone()).await;
    assert_eq!(none.body, Value::Null, "{none:?}");

    // Removing, leaving, deleting.
    let removed = action(
        &app,
        "removeOrganizationMember",
        on(json!({"user_id": bob_id})),
        ann.clone(),
    )
    .await;
    shaped("removeOrganizationMember", &removed.body);
    let last = action(&app, "leaveOrganization", on(json!({})), ann.clone()).await;
    assert_action_error(
        &last,
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "last_organization_admin",
    );
    let deleted = action(&app, "deleteOrganization", on(json!({})), ann.clone()).await;
    shaped("deleteOrganization", &deleted.body);
    let other = action(
        &app,
        "createOrganization",
        json!({"name": "Other"}),
        ann.clone(),
    )
    .await;
    let left = action(
        &app,
        "leaveOrganization",
        json!({"organization_id": other.body["id"]}),
        bob,
    )
    .await;
    assert_action_error(
        &left,
        axum::http::StatusCode::NOT_FOUND,
        "organization_not_found",
    );
}
