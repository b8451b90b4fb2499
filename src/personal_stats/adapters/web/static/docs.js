// The REST docs page: Swagger UI over the service's own OpenAPI document.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  validatorUrl: null, // no badge from validator.swagger.io: the page asks no other host
});
