// Swagger UI for the merged spec. Calls carry the dashboard's token (session
// storage of this origin) unless one is set with Authorize.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  requestInterceptor: (req) => {
    const t = sessionStorage.getItem("jobplane.token");
    if (t && !req.headers.Authorization) req.headers.Authorization = "Bearer " + t;
    return req;
  },
});
