//! The success shapes of `shared_types::Envelope`, for the document only:
//! `Envelope<T>` has every field optional (it also carries failures), while
//! each answer is one of these exactly. `api::ok`, `api::created` and
//! `api::page` build them; the docs test compares real answers to them.
#![allow(dead_code)] // described, never built

use shared_types::Pagination;
use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Components, Ref, RefOr};
use utoipa::ToSchema;

fn success() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

fn null() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

/// A success: `data` is the result, `error` is null.
#[derive(ToSchema)]
pub struct Data<T> {
    #[schema(schema_with = success)]
    success: bool,
    data: T,
    #[schema(schema_with = null)]
    error: (),
}

/// A success whose result is a list, whole.
#[derive(ToSchema)]
pub struct List<T> {
    #[schema(schema_with = success)]
    success: bool,
    data: Vec<T>,
    #[schema(schema_with = null)]
    error: (),
}

/// One page of a list: pass `pagination.next_cursor` back as `?cursor=` while `has_more`.
#[derive(ToSchema)]
pub struct Page<T> {
    #[schema(schema_with = success)]
    success: bool,
    data: Vec<T>,
    #[schema(schema_with = null)]
    error: (),
    pagination: Pagination,
}

/// utoipa inlines a generic argument's schema (`Data_Message.data` is a copy
/// of `Message`, without its example). This points `data` back at the
/// component instead, adding it when only the copy existed.
pub fn reference_data(components: &mut Components) {
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let (inner, is_list) = match name.split_once('_') {
            Some(("Data", inner)) => (inner.to_string(), false),
            Some(("List" | "Page", inner)) => (inner.to_string(), true),
            _ => continue,
        };
        let Some(RefOr::T(Schema::Object(envelope))) = components.schemas.get_mut(&name) else {
            continue;
        };
        let Some(data) = envelope.properties.get_mut("data") else {
            continue;
        };
        let reference = RefOr::Ref(Ref::from_schema_name(&inner));
        let inline = if is_list {
            let RefOr::T(Schema::Array(array)) = data else {
                continue;
            };
            let ArrayItems::RefOrSchema(items) = &array.items else {
                continue;
            };
            let items = (**items).clone();
            *data = ArrayBuilder::new().items(reference).into();
            items
        } else {
            std::mem::replace(data, reference)
        };
        if let RefOr::T(_) = inline {
            components.schemas.entry(inner).or_insert(inline);
        }
    }
}
