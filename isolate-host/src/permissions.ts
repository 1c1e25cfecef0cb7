/**
 * Drops every permission the host was started with. Called once the socket is bound (a bound
 * listener keeps serving) and before the first worker exists: workers inherit the host's
 * permissions as they are when created, so every worker starts with none.
 */

const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

export function revokeAll(): void {
  for (const name of PERMISSIONS) Deno.permissions.revokeSync({ name });
}
