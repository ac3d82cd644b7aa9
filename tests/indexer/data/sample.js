import React, { useState as useS } from "react";
import * as path from "path";
const fs = require("fs");

export const LIMIT = 5;
let count = 0;

/** Adds numbers. */
export function add(a, b) {
  return a + b;
}

const mul = (a, b) => a * b;

class Animal extends Base {
  constructor(name) {
    this.name = name;
  }
  speak() {
    return useS(this.name);
  }
}

export default class Dog {}
