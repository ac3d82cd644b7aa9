import { Injectable } from "@angular/core";
import type { Foo } from "./foo";

export interface Point {
  x: number;
  y: number;
}

export type Id = string | number;

export enum Color { Red, Green }

const ORIGIN: Point = { x: 0, y: 0 };

// Computes a distance.
export function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

export abstract class Service<T> implements Foo {
  private cache = new Map<string, T>();
  get(id: Id): T | undefined {
    return this.cache.get(String(id));
  }
}

namespace Geo {
  export function area(): number { return 0; }
}
