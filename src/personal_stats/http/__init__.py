"""What every HTTP adapter answers with: the JSON response and RFC 9457 problem documents
(`problems`). It imports the core only; the adapters and the server import it."""
