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
        <a href="/ui/effectiveness"{{#effectivenessCurrent}} aria-current="page"{{/effectivenessCurrent}}>Effectiveness</a>
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
        <h3>Labels</h3>
        <dl class="labels">{{#labels}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/labels}}</dl>
        {{#hasAnnotations}}<h3>Annotations</h3>
        <dl class="labels">{{#annotations}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/annotations}}</dl>{{/hasAnnotations}}
        </section>
        <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        {{#timeline}}
        <figure>
        <svg role="img" aria-labelledby="timeline-title" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}">
        <title id="timeline-title">What happened when, and each run from its start to its end</title>
        {{#marks}}<line x1="{{x}}" y1="16" x2="{{x}}" y2="{{bottom}}" stroke="#76767c" stroke-dasharray="3 3"></line>
        <text x="{{x}}" y="{{labelY}}" font-size="12" fill="#1d1d1f">{{label}}</text>{{/marks}}
        {{#bars}}<text x="0" y="{{textY}}" font-size="12" fill="#1d1d1f">{{label}}</text>
        <rect x="{{x}}" y="{{y}}" width="{{width}}" height="12" fill="{{fill}}"></rect>{{/bars}}
        <text x="150" y="{{axisY}}" font-size="12" fill="#505055">{{startLabel}}</text>
        <text x="{{endX}}" y="{{axisY}}" font-size="12" fill="#505055" text-anchor="end">+{{spanLabel}}</text>
        </svg>
        <figcaption>Runs: green reported success, red failed, amber timed out, grey cancelled, blue still running. The runs table below has the same times.</figcaption>
        </figure>
        {{/timeline}}
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
        <thead><tr><th scope="col">Recipe</th><th scope="col">Kind</th><th scope="col">Job</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">What it found, or why it failed</th></tr></thead>
        <tbody>{{#runs}}<tr><td>{{recipe}}</td><td>{{kind}}</td><td><code>{{job}}</code></td><td><span class="run run-{{state}}">{{state}}</span></td><td>{{started}}</td><td>{{finished}}</td><td class="found">{{found}}</td></tr>{{/runs}}</tbody>
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

    /// The effectiveness of the automation over a period: per alert name and per recipe, as charts and tables.
    static let effectiveness = """
        <form class="filters" method="get" action="/ui/effectiveness" aria-label="Choose the period">
        <label>Period
        <select name="days">
        {{#periods}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/periods}}
        </select>
        </label>
        <button type="submit">Show</button>
        </form>
        <p class="count">{{summary}}</p>
        <section aria-labelledby="alerts-heading">
        <h2 id="alerts-heading">Alerts</h2>
        {{#alertChart}}
        <figure>
        <svg role="img" aria-labelledby="alert-chart-title" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}">
        <title id="alert-chart-title">Incidents per alert name; the dark part resolved with no action</title>
        {{#bars}}
        <text x="0" y="{{textY}}" font-size="13" fill="#1d1d1f">{{label}}</text>
        <rect x="{{x}}" y="{{y}}" width="{{whole}}" height="14" fill="#9ec5f8"></rect>
        <rect x="{{x}}" y="{{y}}" width="{{part}}" height="14" fill="#0b57d0"></rect>
        <text x="{{valueX}}" y="{{textY}}" font-size="13" fill="#1d1d1f">{{value}}</text>
        {{/bars}}
        </svg>
        <figcaption>Incidents per alert name. Dark blue: resolved with no action approved (likely noise).</figcaption>
        </figure>
        {{/alertChart}}
        <table class="alerts">
        <thead><tr><th scope="col">Alert</th><th scope="col">Incidents</th><th scope="col">Resolved with no action</th><th scope="col">Time to analysis (median / p90)</th><th scope="col">Time to resolve (median / p90)</th><th scope="col">Actions approved</th></tr></thead>
        <tbody>
        {{#alerts}}<tr><th scope="row">{{name}}</th><td>{{opened}}</td><td>{{quiet}}</td><td>{{analysis}}</td><td>{{resolve}}</td><td>{{approved}}</td></tr>{{/alerts}}
        {{^alerts}}<tr><td colspan="6">No incident in this period.</td></tr>{{/alerts}}
        </tbody>
        </table>
        </section>
        <section aria-labelledby="recipes-heading">
        <h2 id="recipes-heading">Recipes</h2>
        {{#recipeChart}}
        <figure>
        <svg role="img" aria-labelledby="recipe-chart-title" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}">
        <title id="recipe-chart-title">Runs per recipe: succeeded, failed, timed out, cancelled</title>
        {{#bars}}
        <text x="0" y="{{textY}}" font-size="13" fill="#1d1d1f">{{label}}</text>
        {{#segments}}<rect x="{{x}}" y="{{y}}" width="{{width}}" height="14" fill="{{fill}}"></rect>{{/segments}}
        <text x="{{valueX}}" y="{{textY}}" font-size="13" fill="#1d1d1f">{{value}}</text>
        {{/bars}}
        </svg>
        <figcaption>Runs per recipe. Green: succeeded; red: failed; amber: timed out; grey: cancelled or still running.</figcaption>
        </figure>
        {{/recipeChart}}
        <table class="recipes">
        <thead><tr><th scope="col">Recipe</th><th scope="col">Kind</th><th scope="col">Runs</th><th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Timed out</th><th scope="col">Suggestions approved</th></tr></thead>
        <tbody>
        {{#recipes}}<tr><th scope="row">{{name}}</th><td>{{kind}}</td><td>{{runs}}</td><td>{{succeeded}}</td><td>{{failed}}</td><td>{{timedOut}}</td><td>{{approved}}</td></tr>{{/recipes}}
        {{^recipes}}<tr><td colspan="7">No run in this period.</td></tr>{{/recipes}}
        </tbody>
        </table>
        </section>
        """
}
