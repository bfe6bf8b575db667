import Foundation
import Mustache
import TeleOpsCore

/// The review pages' Mustache templates, kept in the binary as constants (no files to install).
///
/// Every value is written with `{{ }}`, which escapes `& < > " '`, so whatever an alert, a reply
/// or a command's output holds reads as text. The style sheet is the only inline content, and
/// the Content-Security-Policy allows exactly it (by its hash) and no script at all.
enum ReviewTemplates {
    /// Parsed once; the templates are constants, and a test renders each of them.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [("head", head), ("foot", foot), ("list", list), ("detail", detail), ("signin", signIn),
                             ("message", message)] {
            do {
                try library.register(text, named: name)
            } catch {
                fatalError("the review template '\(name)' does not parse: \(error)")
            }
        }
        return library
    }()

    /// Renders `model` with the template `name` (one of the constants here).
    static func render(_ model: Any, _ name: String) -> String {
        guard let html = library.render(model, withTemplate: name) else {
            fatalError("no review template named '\(name)'")
        }
        return html
    }

    /// `Content-Security-Policy` for every page: no script, no frames, no plugins, forms only
    /// to this server, and only the page's own style sheet.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'sha256-\(Data(Digest.sha256(Array(css.utf8))).base64EncodedString())'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Readable on a phone and on a desk, light or dark, without JavaScript. Any word breaks
    /// where it must (a 64-hex fingerprint, a URL), so nothing makes the page scroll sideways; and
    /// every link and summary is at least 2rem (32 px) tall and wide, for a thumb (fields and
    /// buttons are, by their padding). `ReviewPageBrowserTests` measures both at a phone's width.
    static let css = """
        :root{color-scheme:light dark;--fg:#1b1f24;--muted:#5b6570;--bg:#fff;--card:#f5f7f9;--line:#d5dbe1;--link:#0b5cad;\
        --red:#c62828;--amber:#a35f00;--green:#2e7d32;--blue:#1565c0}
        @media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#9aa4ae;--bg:#111418;--card:#1a1f25;--line:#2c333b;\
        --link:#6cb6ff;--red:#ff6b6b;--amber:#f0a020;--green:#57c25c;--blue:#64a8ff}}
        *{box-sizing:border-box}
        body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);\
        overflow-wrap:anywhere}
        header.bar{display:flex;gap:.75rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
        header.bar .brand{font-weight:700;text-decoration:none;color:var(--fg)}
        header.bar form{margin-left:auto}
        main{max-width:60rem;margin:0 auto;padding:1rem}
        a{color:var(--link)}
        header.bar .brand,.actions a,.title a,nav.paging a,p>a,dd a{display:inline-block;min-width:2rem;min-height:2rem;\
        padding:.25rem 0}
        h1{font-size:1.3rem;margin:.3rem 0 .6rem;overflow-wrap:anywhere}
        h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
        form.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.5rem;align-items:end}
        form.filters .q,form.filters .hint{grid-column:1/-1}
        .hint{margin:0}
        label{display:flex;flex-direction:column;gap:.15rem;font-size:.8rem;color:var(--muted)}
        input,select,button{font:inherit;font-size:1rem;padding:.45rem .55rem;border:1px solid var(--line);border-radius:6px;\
        background:var(--bg);color:var(--fg);min-width:0}
        button{cursor:pointer;background:var(--card);font-weight:600}
        .actions{display:flex;gap:.75rem;align-items:center}
        ul.counts{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0;padding:0;list-style:none}
        ul.counts a{display:inline-block;min-height:2rem;padding:.2rem .6rem;border:1px solid var(--line);border-radius:999px;\
        text-decoration:none}
        ul.counts a.current{background:var(--card);font-weight:700}
        ul.scenarios{list-style:none;padding:0;margin:0}
        ul.scenarios li{border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem;margin-bottom:.5rem;background:var(--card)}
        .title{display:flex;flex-wrap:wrap;gap:.4rem;align-items:baseline;overflow-wrap:anywhere}
        .summary{margin:.2rem 0;overflow-wrap:anywhere}
        .meta{color:var(--muted);font-size:.85rem}
        .badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;font-weight:600;border:1px solid currentColor}
        .s-open,.v-critical,.v-error,.bad{color:var(--red)}
        .s-acknowledged,.v-warning{color:var(--amber)}
        .s-resolved,.ok{color:var(--green)}
        .v-info{color:var(--blue)}
        .outcome{font-weight:600}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .9rem;margin:.8rem 0}
        dl.facts dt{color:var(--muted)}
        dl.facts dd{margin:0;overflow-wrap:anywhere}
        ol.timeline{list-style:none;padding:0 0 0 1rem;margin:0 0 0 .4rem;border-left:2px solid var(--line)}
        ol.timeline li{position:relative;padding:0 0 1rem}
        ol.timeline li::before{content:"";position:absolute;left:-1.45rem;top:.35rem;width:.8rem;height:.8rem;border-radius:50%;\
        background:var(--bg);border:2px solid var(--line)}
        ol.timeline li.t-ok::before{border-color:var(--green)}
        ol.timeline li.t-bad::before{border-color:var(--red)}
        .event{overflow-wrap:anywhere}
        .event .headline{font-weight:600;color:var(--fg)}
        code,pre{font:.85rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
        code{background:var(--card);padding:.05rem .3rem;border-radius:4px;overflow-wrap:anywhere;color:var(--fg)}
        pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--card);padding:.6rem;border-radius:6px;max-height:30rem;\
        overflow:auto;color:var(--fg)}
        details summary{cursor:pointer;color:var(--link);margin-top:.2rem;min-height:2rem;padding:.25rem 0}
        nav.paging{display:flex;justify-content:space-between;margin:1rem 0}
        .problem{border:1px solid var(--red);color:var(--red);padding:.5rem .8rem;border-radius:6px;overflow-wrap:anywhere}
        """

    static let head = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>{{title}} · TeleOps</title>
        <style>\(css)</style>
        </head>
        <body>
        <header class="bar"><a class="brand" href="/scenarios">TeleOps</a><span class="meta">scenario log</span>\
        {{#signOut}}<form method="post" action="/scenarios/logout"><button type="submit">Sign out</button></form>{{/signOut}}</header>
        <main>

        """

    static let foot = """
        </main>
        </body>
        </html>

        """

    static let list = """
        {{>head}}
        <h1>Scenarios</h1>
        {{#error}}<p class="problem" role="alert">{{.}}</p>{{/error}}
        <form class="filters" method="get" action="/scenarios" role="search">
        <label class="q">Search<input type="search" name="q" value="{{form.q}}" placeholder="words in alerts, replies, notes, commands, output"></label>
        <label>Status<select name="status">{{#statusOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statusOptions}}</select></label>
        <label>Severity<select name="severity">{{#severityOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/severityOptions}}</select></label>
        <label>Host<input name="host" value="{{form.host}}" autocapitalize="off"></label>
        <label>Check<input name="check" value="{{form.check}}" autocapitalize="off"></label>
        <label>Source<input name="source" value="{{form.source}}" autocapitalize="off" placeholder="generic, sensu, …"></label>
        <label>Engineer<input name="engineer" value="{{form.engineer}}" autocapitalize="off"></label>
        <label>Opened since<input name="since" value="{{form.since}}" autocapitalize="off" autocomplete="off" \
        placeholder="24h, 7d, 2026-11-20" aria-describedby="times"></label>
        <label>Opened before<input name="until" value="{{form.until}}" autocapitalize="off" autocomplete="off" \
        placeholder="2026-11-20T08:00:00Z" aria-describedby="times"></label>
        <p class="meta hint" id="times">Times: {{timeFormats}}; an age counts back from now.</p>
        {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
        <div class="actions"><button type="submit">Search</button><a href="/scenarios">Clear</a></div>
        </form>
        {{#results}}
        <ul class="counts">{{#counts}}<li><a class="s-{{status}}{{#current}} current{{/current}}" href="{{href}}">{{status}} {{count}}</a></li>{{/counts}}\
        <li><a href="{{allHref}}">all {{allCount}}</a></li></ul>
        <ul class="scenarios">
        {{#scenarios}}
        <li>
        <div class="title"><a href="/scenarios/{{id}}"><strong>#{{id}}</strong></a><span class="badge s-{{status}}">{{status}}</span>\
        <span class="badge v-{{severity}}">{{severity}}</span><span>{{host}} · {{check}}</span></div>
        <div class="summary">{{summary}}</div>
        <div class="meta">opened <time datetime="{{openedISO}}">{{opened}}</time> · {{span}} · seen {{occurrences}}×</div>
        </li>
        {{/scenarios}}
        </ul>
        {{^scenarios}}<p>No scenario matches.</p>{{/scenarios}}
        <nav class="paging">{{#newestHref}}<a href="{{.}}">← Newest</a>{{/newestHref}}<span></span>\
        {{#olderHref}}<a href="{{.}}" rel="next">Older →</a>{{/olderHref}}</nav>
        {{/results}}
        {{>foot}}
        """

    static let detail = """
        {{>head}}
        <p><a href="/scenarios">← All scenarios</a></p>
        <h1>#{{id}} {{host}} · {{check}}</h1>
        <p class="title"><span class="badge s-{{status}}">{{status}}</span><span class="badge v-{{severity}}">{{severity}}</span></p>
        <p class="summary">{{summary}}</p>
        <p class="outcome">{{outcome}}</p>
        <dl class="facts">
        {{#facts}}<dt>{{label}}</dt><dd>{{#factLink}}<a href="{{factLink}}">{{value}}</a>{{/factLink}}{{^factLink}}{{value}}{{/factLink}}</dd>
        {{/facts}}
        </dl>
        <h2>Timeline</h2>
        <ol class="timeline">
        {{#events}}
        <li class="{{kind}} t-{{tone}}">
        <div class="meta"><time datetime="{{atISO}}">{{at}}</time> · {{offset}} · {{actor}}</div>
        <div class="event"><span class="headline {{tone}}">{{headline}}</span> {{detail}}{{#code}} <code>{{.}}</code>{{/code}}</div>
        {{#output}}<details><summary>{{outputSummary}}</summary><pre>{{outputText}}</pre></details>{{/output}}
        </li>
        {{/events}}
        </ol>
        <p class="meta"><a href="/scenarios">← All scenarios</a> · <a href="/v1/scenarios/{{id}}">this scenario as JSON</a></p>
        {{>foot}}
        """

    static let signIn = """
        {{>head}}
        <h1>Sign in to read the scenario log</h1>
        {{#problem}}<p class="problem" role="alert">{{.}}</p>{{/problem}}
        <form method="post" action="/scenarios/login">
        <input type="hidden" name="next" value="{{next}}">
        <p><label>Review token<input type="password" name="token" autocomplete="current-password" required></label></p>
        <p><button type="submit">Sign in</button></p>
        </form>
        <p class="meta">A token from the <code>review</code> section of the TeleOps configuration. The browser keeps a \
        session cookie for 12 hours; scripts can use <code>Authorization: Bearer TOKEN</code> instead.</p>
        {{>foot}}
        """

    static let message = """
        {{>head}}
        <h1>{{heading}}</h1>
        <p class="problem" role="alert">{{message}}</p>
        <p><a href="/scenarios">← All scenarios</a></p>
        {{>foot}}
        """
}
