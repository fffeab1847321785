import type { NextConfig } from "next";

const config: NextConfig = {
  // Workspace packages are TypeScript source (no build step); Next compiles them.
  transpilePackages: ["@isp/db", "@isp/billing"],
  // The database driver and Prisma's adapter stay plain Node modules on the server; pdfkit
  // reads its font metrics from files beside its own code, which a bundle would not carry.
  serverExternalPackages: ["pg", "@prisma/adapter-pg", "@prisma/client", "pg-copy-streams", "pdfkit"],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default config;
