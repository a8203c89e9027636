import Mustache

/// The dashboard's HTML, as Mustache templates compiled into the binary. Every `{{value}}` is HTML-escaped by
/// Mustache; no template uses the unescaped forms, and a test holds them to that.
enum DashboardTemplates {
    /// The page every `/ui/` address serves: no data, only the frame the script fills in with fragments fetched with
    /// the API's credentials. `view` is `incidents` or `incident`.
    static let page = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Euphrosyne</title>
        <link rel="stylesheet" href="/ui/assets/app.css">
        <script src="/ui/assets/app.js" defer></script>
        </head>
        <body>
        <a class="skip" href="#content">Skip to the content</a>
        <header>
        <nav aria-label="Sections">
        <a href="/ui/" class="brand">Euphrosyne</a>
        <a href="/ui/"{{#incidentsCurrent}} aria-current="page"{{/incidentsCurrent}}>Incidents</a>
        </nav>
        </header>
        <main id="content" tabindex="-1" data-view="{{view}}" data-incident="{{incident}}" data-query="{{query}}">
        <h1>{{title}}</h1>
        <form id="token-form" class="token" hidden>
        <p id="token-reason">This reconciler's API needs a token.</p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required>
        <button type="submit">Show incidents</button>
        </form>
        <p id="status" role="status" aria-live="polite"></p>
        <div id="view"></div>
        </main>
        </body>
        </html>
        """

    /// The incident list with its filters.
    static let incidents = """
        <form class="filters" method="get" action="/ui/" aria-label="Filter incidents">
        <label>State
        <select name="state">
        {{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}
        </select>
        </label>
        <label>Alert name <input name="alert" value="{{alert}}"></label>
        <label>Label <input name="label" value="{{label}}" placeholder="team=payments"></label>
        <label>Since
        <select name="since">
        {{#periods}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/periods}}
        </select>
        </label>
        <button type="submit">Filter</button>
        </form>
        <p class="count">{{summary}}</p>
        <table class="incidents">
        <caption class="visually-hidden">Incidents, newest first</caption>
        <thead><tr><th scope="col">Alert</th><th scope="col">State</th><th scope="col">Age</th><th scope="col">Recipes</th><th scope="col">Suggested actions</th></tr></thead>
        <tbody>
        {{#rows}}
        <tr id="incident-{{id}}" data-incident="{{id}}">
        <td><a href="/ui/incidents/{{id}}">{{alert}}</a></td>
        <td><span class="state state-{{state}}">{{state}}</span></td>
        <td><time datetime="{{created}}">{{age}}</time></td>
        <td>{{recipes}}</td>
        <td>{{actions}}</td>
        </tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="5">No incident matches.</td></tr>{{/rows}}
        </tbody>
        </table>
        """

    /// One incident: its alert, its group, its runs, its analysis, its approvals.
    static let incident = """
        <p><a href="/ui/">← All incidents</a></p>
        <section aria-labelledby="summary-heading">
        <h2 id="summary-heading">{{alert}}</h2>
        <p><span class="state state-{{state}}">{{state}}</span> · opened <time datetime="{{created}}">{{created}}</time> · {{notifications}} notification(s){{#closedReason}} · {{closedReason}}{{/closedReason}}</p>
        <dl class="labels">{{#labels}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/labels}}</dl>
        </section>
        <section aria-labelledby="alerts-heading">
        <h2 id="alerts-heading">Alerts of the group</h2>
        <table>
        <thead><tr><th scope="col">Status</th><th scope="col">Labels</th><th scope="col">Summary</th></tr></thead>
        <tbody>{{#alerts}}<tr><td>{{status}}</td><td>{{labels}}</td><td>{{summary}}</td></tr>{{/alerts}}</tbody>
        </table>
        </section>
        <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Runs</h2>
        <table>
        <thead><tr><th scope="col">Recipe</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Why it failed</th></tr></thead>
        <tbody>{{#runs}}<tr><td>{{recipe}}</td><td>{{kind}}</td><td><span class="run run-{{state}}">{{state}}</span></td><td>{{started}}</td><td>{{finished}}</td><td>{{failure}}</td></tr>{{/runs}}</tbody>
        </table>
        </section>
        <section aria-labelledby="analysis-heading">
        <h2 id="analysis-heading">Analysis</h2>
        {{#analysis}}<pre class="analysis">{{text}}</pre>
        {{#hasLinks}}<ul class="links">{{#links}}<li>{{#href}}<a href="{{href}}" rel="noreferrer noopener">{{text}}</a>{{/href}}{{^href}}{{text}}{{/href}}</li>{{/links}}</ul>{{/hasLinks}}
        <p>Suggested actions: {{actions}}</p>{{/analysis}}
        {{^analysis}}<p>Not analysed yet.</p>{{/analysis}}
        </section>
        <section aria-labelledby="actions-heading">
        <h2 id="actions-heading">Suggested actions</h2>
        {{#approvable}}
        <form class="approve" data-incident="{{id}}" data-action="{{action}}">
        <fieldset>
        <legend>{{action}}</legend>
        {{#inputs}}<label>{{input}} <input name="{{input}}" autocomplete="off"></label>{{/inputs}}
        <button type="submit">Run {{action}}</button>
        </fieldset>
        </form>
        {{/approvable}}
        {{^approvable}}<p>{{noActions}}</p>{{/approvable}}
        </section>
        <section aria-labelledby="approvals-heading">
        <h2 id="approvals-heading">Approvals</h2>
        <table>
        <thead><tr><th scope="col">When</th><th scope="col">By</th><th scope="col">Actions</th><th scope="col">Outcome</th></tr></thead>
        <tbody>{{#attempts}}<tr><td>{{at}}</td><td>{{by}}</td><td>{{actions}}</td><td>{{outcome}}</td></tr>{{/attempts}}
        {{^attempts}}<tr><td colspan="4">No approval yet.</td></tr>{{/attempts}}</tbody>
        </table>
        </section>
        """
}
