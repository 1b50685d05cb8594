"""The market console: server-rendered pages (Jinja2) at the API's root, for a person who
tracks the GPU market. ``/`` lists the imports and takes uploads, ``/imports/{id}`` shows one
import, ``/models`` and ``/models/{id}`` the registry and a model's prices over time,
``/report`` the market report.

A thin layer: every figure comes from the function the matching JSON route calls, and every
write (upload, retry, cancel) is made by the page's script against the JSON API, so the API's
token guards the console's writes as it guards the API's. Templates, the stylesheet, the
script and the vendored chart library (uPlot) ship inside the package: no CDN, no build step.
"""
