// A static import of a local file fails the whole module.
// expect: {"status": "error"}
import secret from "file:///etc/passwd";
export default () => secret;
