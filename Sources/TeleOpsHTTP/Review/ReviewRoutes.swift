import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TeleOpsCore

/// Read-only access to the scenario log: a JSON API for scripts and server-rendered pages for
/// people (docs/review.md).
///
/// - `GET /v1/scenarios?status=&host=&check=&source=&severity=&engineer=&since=&until=&q=&limit=&before=`:
///   `{"scenarios": [...], "next_before": 41 | null}`, newest first.
/// - `GET /v1/scenarios/{id}`: `{"scenario": {...}, "events": [{"id", "at", "actor", "kind", "data"}, ...]}`.
/// - `GET /scenarios` (the same parameters) and `GET /scenarios/{id}`: the list and the timeline.
/// - `GET|POST /scenarios/login`, `POST /scenarios/logout`: the browser's session cookie.
///
/// A bad parameter gets 400 naming it, its value and what is accepted; an unknown scenario 404.
/// Access is decided by `ReviewAccess` before anything is read.
struct ReviewRoutes: Sendable {
    let store: any ScenarioStore
    let access: ReviewAccess
    let logger: Logger

    /// Largest sign-in form accepted.
    static let maxFormBytes = 4096

    init(store: any ScenarioStore, settings: ReviewSettings, bindHost: String, logger: Logger) {
        self.store = store
        access = ReviewAccess(settings: settings, bindHost: bindHost)
        self.logger = logger
    }

    func register(on router: Router<BasicRequestContext>) {
        if access.isUnconfigured {
            logger.warning("scenario review is off: \(access.notConfiguredMessage)")
        }
        router.get("/v1/scenarios") { request, _ in await api(request) { try await listJSON(request) } }
        router.get("/v1/scenarios/:id") { request, context in
            await api(request) { try await detailJSON(context.parameters.get("id") ?? "") }
        }
        router.get("/") { _, _ in Self.redirect(to: "/scenarios") }
        router.get("/scenarios") { request, _ in await page(request) { signOut in try await listPage(request, signOut: signOut) } }
        router.get("/scenarios/login") { request, _ in
            let next = Self.safeNext((try? QueryString.parse(request.uri.query))?.pairs.first { $0.name == "next" }?.value)
            if access.isUnconfigured {
                return messagePage(.forbidden, heading: "Scenario review is off", message: access.notConfiguredMessage)
            }
            // Open on loopback: there is nothing to sign in to.
            return access.requiresToken ? signInPage(next: next, problem: nil, status: .ok) : Self.redirect(to: next)
        }
        router.post("/scenarios/login") { request, _ in await signIn(request) }
        router.post("/scenarios/logout") { _, _ in
            var response = Self.redirect(to: "/scenarios")
            response.setCookie(Cookie(
                name: ReviewAccess.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        router.get("/scenarios/:id") { request, context in
            await page(request) { signOut in try await detailPage(context.parameters.get("id") ?? "", signOut: signOut) }
        }
    }

    // MARK: JSON

    /// A refusal: the status and the JSON error body.
    struct Refusal: Error {
        var status: HTTPResponse.Status
        var body: ReviewJSON.Failure
    }

    private func api(_ request: Request, _ answer: () async throws -> Response) async -> Response {
        switch decide(request) {
        case .allowed:
            break
        case .notConfigured:
            return ReviewJSON.response(.forbidden, ReviewJSON.Failure(error: access.notConfiguredMessage))
        case .missingCredentials, .wrongCredentials:
            var response = ReviewJSON.response(.unauthorized, ReviewJSON.Failure(
                error: "reading scenarios requires 'Authorization: Bearer <token>' with a token from review.tokens "
                    + "or review.tokens_file", field: "Authorization"))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        do {
            return try await answer()
        } catch let refusal as Refusal {
            return ReviewJSON.response(refusal.status, refusal.body)
        } catch let error as ReviewParameterError {
            return ReviewJSON.response(
                .badRequest, ReviewJSON.Failure(error: error.description, field: error.parameter, value: error.value))
        } catch {
            logger.error("the scenario store could not be read", metadata: ["error": "\(error)"])
            return ReviewJSON.response(
                .internalServerError, ReviewJSON.Failure(error: "the scenario store could not be read; try again (\(error))"))
        }
    }

    private func listJSON(_ request: Request) async throws -> Response {
        let filter = try ScenarioFilter(QueryString.parse(request.uri.query))
        let (scenarios, nextBefore) = try await page(of: filter)
        return ReviewJSON.response(.ok, ReviewJSON.ListBody(scenarios: scenarios.map(ReviewJSON.ScenarioBody.init), nextBefore: nextBefore))
    }

    private func detailJSON(_ idText: String) async throws -> Response {
        let id = try Self.scenarioID(idText)
        guard let scenario = try await store.scenario(id: id) else {
            throw Refusal(status: .notFound, body: ReviewJSON.Failure(
                error: "there is no scenario #\(id); GET /v1/scenarios lists the scenarios there are", field: "id", value: idText))
        }
        let events = try await store.events(of: id)
        let alerts = try await store.alerts(ids: events.compactMap(\.alertID))
        return ReviewJSON.response(.ok, ReviewJSON.DetailBody(
            scenario: ReviewJSON.ScenarioBody(scenario: scenario), events: events,
            alerts: StoredAlert.list(alerts)))
    }

    /// One page of `filter`, newest first, and the id to continue from when there is more.
    private func page(of filter: ScenarioFilter) async throws -> ([Scenario], Int64?) {
        var query = filter.query
        query.limit += 1  // one more than asked tells whether another page follows
        var scenarios = try await store.scenarios(query)
        guard scenarios.count > filter.query.limit else { return (scenarios, nil) }
        scenarios.removeLast(scenarios.count - filter.query.limit)
        return (scenarios, scenarios.last?.id)
    }

    /// A scenario id from the path: `12`, or `#12` as chat writes it (`%2312` in a URL).
    static func scenarioID(_ text: String) throws(ReviewParameterError) -> Int64 {
        let decoded = text.removingPercentEncoding ?? text
        let digits = decoded.hasPrefix("#") ? String(decoded.dropFirst()) : decoded
        guard let id = Int64(digits), id > 0 else {
            throw ReviewParameterError(parameter: "id", value: text, problem: "'\(text)' is not a scenario id; expected a positive whole number")
        }
        return id
    }

    // MARK: Pages

    private func page(_ request: Request, _ answer: (_ signOut: Bool) async throws -> Response) async -> Response {
        let decision = decide(request)
        switch decision {
        case .allowed:
            break
        case .notConfigured:
            return messagePage(.forbidden, heading: "Scenario review is off", message: access.notConfiguredMessage)
        case .missingCredentials, .wrongCredentials:
            let next = Self.safeNext(request.uri.string)
            let problem = decision == .wrongCredentials
                ? "Your session or token is no longer accepted (the token may have been rotated); sign in again." : nil
            return signInPage(next: next, problem: problem, status: .unauthorized)
        }
        let signOut = access.requiresToken && request.cookies[ReviewAccess.cookieName] != nil
        do {
            return try await answer(signOut)
        } catch let refusal as Refusal {
            return messagePage(refusal.status, heading: refusal.status == .notFound ? "Not found" : "Cannot show this", message: refusal.body.error)
        } catch let error as ReviewParameterError {
            return messagePage(.badRequest, heading: "Bad request", message: error.description)
        } catch {
            logger.error("the scenario store could not be read", metadata: ["error": "\(error)"])
            return messagePage(.internalServerError, heading: "The scenario store could not be read", message: "Try again. (\(error))")
        }
    }

    /// The most a count on the list page counts when there are search words ("1000+").
    static let searchCountCap = 1000

    private func listPage(_ request: Request, signOut: Bool) async throws -> Response {
        let filter: ScenarioFilter
        do {
            filter = try ScenarioFilter(QueryString.parse(request.uri.query))
        } catch {
            // The form again with what was given, and the message instead of results.
            let pairs = (try? QueryString.parse(request.uri.query))?.pairs ?? []
            let given = Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
            let model = ReviewPageModels.list(given: given, results: nil, signOut: signOut, error: error.description)
            return Self.html(.badRequest, ReviewTemplates.render(model, "list"))
        }
        let (scenarios, nextBefore) = try await page(of: filter)
        // With search words a count walks the matches, so it stops at `searchCountCap`.
        let cap = filter.query.text == nil ? Int.max : Self.searchCountCap
        // Nearly every scenario is resolved, and the resolved ones are counted as what is left:
        // counting all is quicker than counting the resolved, and with search words it is one
        // walk instead of two. (Active ones first: a scenario opened in between is then counted
        // once too many, never negative.) A partial count of all leaves "at least" for resolved.
        var counts: [ScenarioStatus: ScenarioCount] = [:]
        var countQuery = filter.query
        for status in ScenarioStatus.allCases where status.isActive {
            countQuery.status = status
            counts[status] = try await store.count(countQuery, upTo: cap)
        }
        countQuery.status = nil
        let all = try await store.count(countQuery, upTo: cap)
        let active = counts.values.reduce(0) { $0 + $1.value }
        counts[.resolved] = ScenarioCount(
            max(0, all.value - active), isPartial: all.isPartial || counts.values.contains(where: \.isPartial))
        let results = ReviewPageModels.results(
            filter: filter, scenarios: scenarios, nextBefore: nextBefore, counts: counts, allCount: all, now: Date())
        let model = ReviewPageModels.list(given: filter.given, results: results, signOut: signOut)
        return Self.html(.ok, ReviewTemplates.render(model, "list"))
    }

    private func detailPage(_ idText: String, signOut: Bool) async throws -> Response {
        let id = try Self.scenarioID(idText)
        guard let scenario = try await store.scenario(id: id) else {
            throw Refusal(status: .notFound, body: ReviewJSON.Failure(error: "There is no scenario #\(id)."))
        }
        let events = try await store.events(of: id)
        let alerts = try await store.alerts(ids: events.compactMap(\.alertID))
        let model = ReviewPageModels.detail(scenario, events: events, alerts: alerts, now: Date(), signOut: signOut)
        return Self.html(.ok, ReviewTemplates.render(model, "detail"))
    }

    // MARK: Signing in

    /// `POST /scenarios/login` with the form's `token` and `next`: a session cookie and a
    /// redirect to `next`, or the form again with what was wrong.
    private func signIn(_ request: Request) async -> Response {
        if access.isUnconfigured {
            return messagePage(.forbidden, heading: "Scenario review is off", message: access.notConfiguredMessage)
        }
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/x-www-form-urlencoded" else {
            return messagePage(
                .unsupportedMediaType, heading: "Cannot sign in",
                message: "Content-Type '\(request.headers[.contentType] ?? "none")' is not accepted here; send the sign-in form "
                    + "(application/x-www-form-urlencoded)")
        }
        let form: QueryString
        do {
            let body = try await request.body.collect(upTo: Self.maxFormBytes)
            form = try QueryString.parse(String(decoding: body.readableBytesView, as: UTF8.self))
        } catch let error as ReviewParameterError {
            return messagePage(.badRequest, heading: "Cannot sign in", message: error.description)
        } catch {
            return messagePage(.contentTooLarge, heading: "Cannot sign in", message: "The form is larger than \(Self.maxFormBytes) bytes.")
        }
        let fields = Dictionary(form.pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let next = Self.safeNext(fields["next"])
        guard access.requiresToken else { return Self.redirect(to: next) }  // open on loopback: nothing to sign in to
        let token = (fields["token"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, access.accepts(token: token) else {
            logger.notice("a review sign-in was refused (wrong token)")
            return signInPage(
                next: next, problem: token.isEmpty ? "Enter a review token." : "That token is not accepted.", status: .unauthorized)
        }
        var response = Self.redirect(to: next)
        response.setCookie(Cookie(
            name: ReviewAccess.cookieName, value: ReviewAccess.sessionValue(token: token), maxAge: ReviewAccess.cookieMaxAge,
            path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    /// Where to go after signing in: a path of the review pages or API on this server, never
    /// another site (`//evil.example` or `https://…` fall back to the list).
    static func safeNext(_ next: String?) -> String {
        guard let next, !next.contains("\\") else { return "/scenarios" }
        let path = next.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let isReview = ["/scenarios", "/v1/scenarios"].contains { path == $0 || path.hasPrefix($0 + "/") }
        guard isReview, !["/scenarios/login", "/scenarios/logout"].contains(path) else { return "/scenarios" }
        return next
    }

    // MARK: Answers

    private func decide(_ request: Request) -> ReviewAccess.Decision {
        access.decide(authorization: request.headers[.authorization], cookie: request.cookies[ReviewAccess.cookieName]?.value)
    }

    private func signInPage(next: String, problem: String?, status: HTTPResponse.Status) -> Response {
        Self.html(status, ReviewTemplates.render(ReviewPageModels.SignInPage(problem: problem, next: next), "signin"))
    }

    private func messagePage(_ status: HTTPResponse.Status, heading: String, message: String) -> Response {
        Self.html(status, ReviewTemplates.render(
            ReviewPageModels.MessagePage(title: heading, heading: heading, message: message), "message"))
    }

    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: ReviewTemplates.contentSecurityPolicy,
                .xContentTypeOptions: "nosniff",
                .cacheControl: "no-store",
                referrerPolicy: "no-referrer",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}
