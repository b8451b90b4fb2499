"""What every HTTP adapter answers with: the JSON response and RFC 9457 problem documents
(`problems`), and the validators of an answer read at one data version (`caching`). It
imports the core only; the adapters and the server import it."""
