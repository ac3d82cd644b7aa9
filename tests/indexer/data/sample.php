<?php
namespace App\Models;

use App\Base\Model;
use Illuminate\Support\Str as S;

const VERSION = "1.0";

/** A user. */
class User extends Model implements HasName
{
    const ROLE = "user";
    private $name;

    public function getName(): string
    {
        return S::upper($this->name);
    }

    public static function make($n) { return new User($n); }
}

interface HasName { public function getName(): string; }

trait Greets { function greet() {} }

enum Suit { case Hearts; }

function helper($x) { return $x; }
