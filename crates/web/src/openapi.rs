//! The OpenAPI 3 document of the API, generated from the same table specs
//! that drive validation, so the schema of every record type cannot drift
//! from what the server accepts.

use serde_json::{Map, Value, json};
use store::stem;
use trial::bundle::TABLES;

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn refusals() -> Vec<(&'static str, Value)> {
    vec![
        ("400", error_response("The body is not JSON.")),
        ("401", error_response("No valid session: sign in first.")),
        (
            "403",
            error_response("The role or sites do not allow it, or the CSRF header is missing."),
        ),
        (
            "404",
            error_response("No such record, or not one of the user's sites."),
        ),
        (
            "409",
            error_response("The record changed since the version edited; `current` holds it now."),
        ),
        ("413", error_response("The body is larger than 256 KiB.")),
        (
            "422",
            error_response("Fields break rules; `fields` names each field and rule."),
        ),
        (
            "423",
            error_response("The database is locked for analysis."),
        ),
    ]
}

fn responses(success: (&str, Value)) -> Value {
    let mut m = Map::new();
    m.insert(success.0.to_owned(), success.1);
    for (code, v) in refusals() {
        m.insert(code.to_owned(), v);
    }
    Value::Object(m)
}

/// Login's answers: its refusals are 401 (wrong name or password, or a
/// disabled account) and 429 (the account locked out, or the client's
/// address throttled, then with `Retry-After`).
fn login_responses() -> Value {
    let mut m = Map::new();
    m.insert(
        "200".into(),
        ok(
            "Signed in",
            json!({"type": "object", "properties": {"user": {"type": "string"}, "role": {"type": "string"}, "csrf": {"type": "string"}}}),
        ),
    );
    m.insert("400".into(), error_response("The body is not JSON."));
    m.insert(
        "401".into(),
        error_response("Wrong user name or password, or the account is disabled."),
    );
    let mut throttled = error_response(
        "Too many failed logins: of the account (locked for 15 minutes), or from the client's address (then `Retry-After` says when it may try again).",
    );
    throttled["headers"] = json!({"Retry-After": {"description": "Seconds until the address may try again.", "schema": {"type": "integer"}}});
    m.insert("429".into(), throttled);
    Value::Object(m)
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object", "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "enum": ["malformed_json", "unauthenticated", "forbidden", "not_found", "conflict", "too_large", "invalid", "locked", "login_refused", "internal"]},
                "message": {"type": "string"},
                "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": ["string", "null"]}, "rule": {"type": "string"}}, "required": ["field", "rule"]}},
                "current": {"$ref": "#/components/schemas/Stored"}
            }
        }),
    );
    schemas.insert(
        "Signature".into(),
        json!({
            "type": "object",
            "required": ["id", "patient_id", "user", "printed_name", "role", "meaning", "signed_at", "site_id", "casebook_version", "covers_current_data"],
            "properties": {
                "id": {"type": "integer"}, "patient_id": {"type": "string"}, "user": {"type": "string"},
                "printed_name": {"type": "string"}, "site_id": {"type": "string"},
                "casebook_version": {"type": "integer", "description": "The casebook's version signed"},
                "role": {"type": "string"}, "meaning": {"type": "string"}, "signed_at": {"type": "string"},
                "covers_current_data": {"type": "boolean", "description": "No record of the patient changed since the signature"}
            }
        }),
    );
    schemas.insert(
        "ManualQuery".into(),
        json!({
            "type": "object",
            "required": ["id", "table", "key", "field", "version", "patient_id", "site_id", "status", "raised_by", "raised_at", "record_version", "record_retracted", "messages"],
            "properties": {
                "id": {"type": "integer"}, "table": {"type": "string"}, "key": {"type": "string"},
                "field": {"type": ["string", "null"]}, "version": {"type": "integer"},
                "patient_id": {"type": "string"}, "site_id": {"type": "string"},
                "status": {"type": "string", "enum": ["open", "answered", "closed"]},
                "raised_by": {"type": "string"}, "raised_at": {"type": "string"},
                "record_version": {"type": "integer", "description": "The record's version now (later than version when it changed since)"},
                "record_retracted": {"type": "boolean", "description": "The record was retracted since"},
                "messages": {"type": "array", "items": {"type": "object",
                    "required": ["at", "user", "role", "step", "text"],
                    "properties": {"at": {"type": "string"}, "user": {"type": "string"}, "role": {"type": "string"},
                                   "step": {"type": "string", "enum": ["raise", "answer", "reopen", "close"]}, "text": {"type": "string"}}}}
            }
        }),
    );
    schemas.insert(
        "Stored".into(),
        json!({
            "type": "object",
            "required": ["table", "key", "version", "patient_id", "site_id", "fields", "recorded_at", "recorded_by"],
            "properties": {
                "table": {"type": "string"}, "key": {"type": "string"}, "version": {"type": "integer"},
                "patient_id": {"type": "string"}, "site_id": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "recorded_at": {"type": "string"}, "recorded_by": {"type": "string"}
            }
        }),
    );
    for t in TABLES {
        let name = stem(t);
        let properties: Map<String, Value> = t
            .columns
            .iter()
            .map(|(c, _)| {
                (
                    (*c).to_owned(),
                    json!({"type": ["string", "number", "boolean", "null"]}),
                )
            })
            .collect();
        let required: Vec<&str> = t
            .columns
            .iter()
            .filter(|(_, r)| *r)
            .map(|(c, _)| *c)
            .collect();
        let record = format!("Record_{name}");
        schemas.insert(
            record.clone(),
            json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required,
                   "description": format!("One row of {} (DATA-FORMAT.md §1); values as the bundle writes them.", t.name)}),
        );
        let rref = json!({"$ref": format!("#/components/schemas/{record}")});
        let written = json!({"type": "object", "properties": {"record": {"$ref": "#/components/schemas/Stored"}, "queries": {"type": "array", "items": {"type": "string"}}}});
        paths.insert(
            format!("/api/{name}"),
            json!({
                "get": {"summary": format!("List current {name} records of the user's sites"), "tags": [name],
                        "parameters": [{"name": "patient_id", "in": "query", "required": false, "schema": {"type": "string"}}],
                        "responses": responses(("200", ok("Records", json!({"type": "array", "items": {"$ref": "#/components/schemas/Stored"}}))))},
                "post": {"summary": format!("Enter a new {name} record"), "tags": [name],
                         "parameters": [{"$ref": "#/components/parameters/Csrf"}],
                         "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["record"],
                                                     "properties": {"record": rref, "reason": {"type": "string"}}})),
                         "responses": responses(("201", ok("Stored, with the data queries its warnings raised", written.clone())))}
            }),
        );
        paths.insert(
            format!("/api/{name}/{{key}}"),
            json!({
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": format!("The current version of a {name} record"), "tags": [name],
                        "responses": responses(("200", ok("Record", json!({"$ref": "#/components/schemas/Stored"}))))},
                "put": {"summary": format!("Change a {name} record (reason required; the version edited)"), "tags": [name],
                        "parameters": [{"$ref": "#/components/parameters/Csrf"}],
                        "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["version", "reason", "record"],
                                                    "properties": {"version": {"type": "integer"}, "reason": {"type": "string", "minLength": 1}, "record": rref}})),
                        "responses": responses(("200", ok("Stored as a new version", written.clone())))},
                "delete": {"summary": format!("Retract a {name} record (nothing is deleted)"), "tags": [name],
                           "parameters": [{"$ref": "#/components/parameters/Csrf"}],
                           "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["version", "reason"],
                                                       "properties": {"version": {"type": "integer"}, "reason": {"type": "string", "minLength": 1}}})),
                           "responses": responses(("200", ok("Retracted", written)))}
            }),
        );
        paths.insert(
            format!("/api/{name}/{{key}}/history"),
            json!({
                "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": format!("Every version of a {name} record"), "tags": [name],
                        "responses": responses(("200", ok("Versions, oldest first", json!({"type": "array", "items": {"type": "object"}}))))}
            }),
        );
    }
    let simple = |summary: &str, schema: Value| json!({"summary": summary, "responses": responses(("200", ok(summary, schema)))});
    paths.insert(
        "/api/login".into(),
        json!({"post": {"summary": "Sign in; sets the HttpOnly session cookie and returns the CSRF token",
                        "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["user", "password"],
                                                    "properties": {"user": {"type": "string"}, "password": {"type": "string"}}})),
                        "responses": login_responses()}}),
    );
    paths.insert("/api/logout".into(), json!({"post": {"summary": "Sign out", "parameters": [{"$ref": "#/components/parameters/Csrf"}], "responses": responses(("200", ok("Signed out", json!({"type": "object"}))))}}));
    paths.insert(
        "/api/me".into(),
        json!({"get": simple("The signed-in user", json!({"type": "object"}))}),
    );
    paths.insert(
        "/api/tables".into(),
        json!({"get": simple("Record types and their fields", json!({"type": "array"}))}),
    );
    paths.insert(
        "/api/patients/{id}/casebook".into(),
        json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
               "get": simple("Every current record of one patient", json!({"type": "object"}))}),
    );
    paths.insert(
        "/api/queries".into(),
        json!({"get": simple("Open data queries of the user's sites", json!({"type": "array"}))}),
    );
    let csrf = json!([{"$ref": "#/components/parameters/Csrf"}]);
    paths.insert(
        "/api/manual-queries".into(),
        json!({
            "get": {"summary": "Data queries raised by hand on the user's sites, with their threads, oldest first",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "answered", "closed"]}},
                        {"name": "patient", "in": "query", "schema": {"type": "string"}},
                        {"name": "table", "in": "query", "schema": {"type": "string"}, "description": "With key: the queries of one record"},
                        {"name": "key", "in": "query", "schema": {"type": "string"}, "description": "With table: the queries of one record"}],
                    "responses": responses(("200", ok("Queries", json!({"type": "array", "items": {"$ref": "#/components/schemas/ManualQuery"}}))))},
            "post": {"summary": "Raise a query on a record, or one of its fields (monitor, data manager)",
                     "parameters": csrf,
                     "requestBody": {"required": true, "content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": false, "required": ["table", "key", "text"],
                         "properties": {"table": {"type": "string"}, "key": {"type": "string"},
                                        "field": {"type": "string"}, "text": {"type": "string", "maxLength": store::MESSAGE_MAX}}}}}},
                     "responses": responses(("201", ok("The query raised", json!({"$ref": "#/components/schemas/ManualQuery"}))))}
        }),
    );
    paths.insert(
        "/api/patients/{id}/signatures".into(),
        json!({
            "get": {"summary": "The investigators' signatures of a patient's casebook, oldest first, each saying whether it still covers the data",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": responses(("200", ok("Signatures", json!({"type": "array", "items": {"$ref": "#/components/schemas/Signature"}}))))},
            "post": {"summary": "Sign the casebook (an investigator of the patient's site, with their password again)",
                     "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}, {"$ref": "#/components/parameters/Csrf"}],
                     "requestBody": {"required": true, "content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": false, "required": ["user", "password", "casebook_version"],
                         "properties": {"user": {"type": "string", "description": "The signer's own user name, typed again"},
                                        "password": {"type": "string"},
                                        "casebook_version": {"type": "integer", "description": "The casebook_version of the casebook read; 409 when it changed since"}}}}}},
                     "responses": responses(("201", ok("The signature", json!({"$ref": "#/components/schemas/Signature"}))))}
        }),
    );
    paths.insert(
        "/api/manual-queries/{id}".into(),
        json!({"get": {"summary": "One query raised by hand, with its thread",
                       "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                       "responses": responses(("200", ok("The query", json!({"$ref": "#/components/schemas/ManualQuery"}))))}}),
    );
    paths.insert(
        "/api/manual-queries/{id}/{step}".into(),
        json!({"post": {"summary": "A step of the thread: answer (site staff), reopen or close (monitor, data manager)",
                        "parameters": [
                            {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                            {"name": "step", "in": "path", "required": true, "schema": {"type": "string", "enum": ["answer", "reopen", "close"]}},
                            {"$ref": "#/components/parameters/Csrf"}],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {
                            "type": "object", "additionalProperties": false, "required": ["text"],
                            "properties": {"text": {"type": "string", "maxLength": store::MESSAGE_MAX}}}}}},
                        "responses": responses(("200", ok("The query after the step", json!({"$ref": "#/components/schemas/ManualQuery"}))))}}),
    );
    paths.insert(
        "/api/audit".into(),
        json!({"get": {"summary": "The audit trail (of one record with table and key)",
                       "parameters": [{"name": "table", "in": "query", "schema": {"type": "string"}}, {"name": "key", "in": "query", "schema": {"type": "string"}}],
                       "responses": responses(("200", ok("Entries, oldest first", json!({"type": "array"}))))}}),
    );
    paths.insert(
        "/api/state".into(),
        json!({"get": simple("Lock, cut-off and protocol", json!({"type": "object"}))}),
    );
    for (path, what) in [
        (
            "/api/lock",
            "Lock the database (data manager; reason required)",
        ),
        (
            "/api/unlock",
            "Unlock the database (data manager; reason required)",
        ),
    ] {
        paths.insert(
            path.into(),
            json!({"post": {"summary": what, "parameters": [{"$ref": "#/components/parameters/Csrf"}],
                            "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 1}}})),
                            "responses": responses(("200", ok("Done", json!({"type": "object"}))))}}),
        );
    }
    paths.insert(
        "/api/cutoff".into(),
        json!({"post": {"summary": "Set the data cut-off (data manager; reason required)", "parameters": [{"$ref": "#/components/parameters/Csrf"}],
                        "requestBody": body(json!({"type": "object", "additionalProperties": false, "required": ["cutoff", "reason"],
                                                    "properties": {"cutoff": {"type": "string", "format": "date"}, "reason": {"type": "string", "minLength": 1}}})),
                        "responses": responses(("200", ok("Set", json!({"type": "object"}))))}}),
    );
    paths.insert(
        "/api/report".into(),
        json!({"get": {"summary": "endpoints.json (DATA-FORMAT.md §2) of the user's data, now or as of an instant",
                       "parameters": [{"name": "as_of", "in": "query", "schema": {"type": "string"}, "description": "YYYY-MM-DD (end of day, UTC) or an RFC 3339 instant"}],
                       "responses": responses(("200", ok("endpoints.json", json!({"type": "object"}))))}}),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({"get": simple("This document", json!({"type": "object"}))}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "isatrial", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The data system of the phase II isatuximab T-ALL trial. Sign in with POST /api/login; send the returned csrf token as the X-CSRF-Token header on every change."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {"Csrf": {"name": "X-CSRF-Token", "in": "header", "required": true, "schema": {"type": "string"}}},
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE}}
        },
        "security": [{"session": []}]
    })
}
