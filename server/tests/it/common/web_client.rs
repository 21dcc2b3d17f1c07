//! A browser's requests to the web app in process, all from one client
//! address: forms, JSON with the CSRF header, pages, the cookies set.

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use serde_json::Value;

/// The client's address (a documentation range: throttles count it).
pub fn peer() -> std::net::SocketAddr {
    "203.0.113.9:5000".parse().expect("addr")
}

/// A cookie the response set (not a removal).
pub fn cookie<B>(r: &ServiceResponse<B>, name: &str) -> Option<Cookie<'static>> {
    r.response()
        .cookies()
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.into_owned())
}

/// POST a form with `cookies`.
pub async fn post_form<S, B>(
    svc: &S,
    uri: &str,
    cookies: &[&Cookie<'static>],
    form: &[(&str, &str)],
) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(uri).peer_addr(peer());
    for c in cookies {
        req = req.cookie((*c).clone());
    }
    test::call_service(svc, req.set_form(form).to_request()).await
}

/// POST JSON with `cookies` and the CSRF header: the status, the JSON
/// answer (`Null` when it is none) and the cookies set.
pub async fn post_json<S, B>(
    svc: &S,
    uri: &str,
    cookies: &[&Cookie<'static>],
    csrf: Option<&str>,
    body: &Value,
) -> (u16, Value, Vec<Cookie<'static>>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = TestRequest::post().uri(uri).peer_addr(peer());
    for c in cookies {
        req = req.cookie((*c).clone());
    }
    if let Some(t) = csrf {
        req = req.insert_header(("X-CSRF-Token", t));
    }
    let r = test::call_service(svc, req.set_json(body).to_request()).await;
    let status = r.status().as_u16();
    let set: Vec<Cookie<'static>> = r.response().cookies().map(|c| c.into_owned()).collect();
    let body = test::read_body(r).await;
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, v, set)
}

/// GET a page with the session `c`: its status and body.
pub async fn get_body<S, B>(svc: &S, uri: &str, c: &Cookie<'static>) -> (u16, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .cookie(c.clone())
        .to_request();
    let r = test::call_service(svc, req).await;
    let status = r.status().as_u16();
    let body = test::read_body(r).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}
