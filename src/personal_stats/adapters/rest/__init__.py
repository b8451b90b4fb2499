"""The REST adapter: the contract's routes (`routes`), the SVG cards (`cards`), the OpenAPI
document (`openapi`) and its Swagger UI page (`docs`)."""
